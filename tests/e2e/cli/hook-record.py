# tests/e2e/cli/hook-record.py NAME [ARG...] — an OCI hook for the tests.
#
# Appends one line to $HOOK_LOG (from the hook's own env):
#   NAME status=STATUS id=ID var=$HOOK_VAR argv=ARG1|ARG2...
# with STATUS and ID parsed from the state JSON on stdin. Then, when
# $HOOK_EXIT is set, exits with that status; when $HOOK_SLEEP is set, sleeps
# that many seconds first (timeouts).
import json
import os
import sys
import time

state = json.load(sys.stdin)
with open(os.environ["HOOK_LOG"], "a") as f:
    f.write("%s status=%s id=%s var=%s argv=%s\n" % (
        sys.argv[1], state.get("status"), state.get("id"),
        os.environ.get("HOOK_VAR", "-"), "|".join(sys.argv[1:])))
if os.environ.get("HOOK_SLEEP"):
    time.sleep(float(os.environ["HOOK_SLEEP"]))
sys.exit(int(os.environ.get("HOOK_EXIT", "0")))
