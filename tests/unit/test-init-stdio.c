/* runvm-init in host mode against a fake host: the lifecycle, exit
 * statuses, stdio relays (separation, EOF, large transfers), signals and
 * the protocol's error paths. Needs root (namespaces and mounts). */
#include <config.h>
#include "tap.h"
#include "init-host.h"
#include "proto.h"
#include "utils.h"

#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

static char rootfs[128];

/* Runs PROCESS to completion; returns the host for inspection. */
static int
run (struct fake_host *h, const char *config, bool with_stdin, const char *in, size_t in_len)
{
  if (fake_host_boot (h, rootfs) < 0)
    return -1;
  if (fake_host_create (h, config, with_stdin) < 0)
    return -1;
  if (fake_host_start (h) < 0)
    return -1;
  return fake_host_finish (h, in, in_len);
}

static void
test_echo (void)
{
  struct fake_host h;
  cleanup_free char *c = make_config (rootfs, "\"args\":[\"/bin/testinit\",\"echo\",\"hello\",\"world\"]", "", "");
  int r = run (&h, c, false, NULL, 0);
  TAP_OK (r == 0 && h.pid > 0, "echo: created, started, exited");
  TAP_OK (h.out.buf && strcmp (h.out.buf, "hello world\n") == 0, "echo: stdout");
  TAP_OK (h.err.len == 0, "echo: nothing on stderr");
  TAP_OK (h.status == 0 && h.init_status == 0, "echo: status 0, runvm-init exits 0 after bye");
  fake_host_cleanup (&h);
}

static void
test_exit_code (const char *args, long want, const char *what)
{
  struct fake_host h;
  cleanup_free char *proc = NULL, *c = NULL;
  int r;
  if (asprintf (&proc, "\"args\":%s", args) < 0)
    abort ();
  c = make_config_nopidns (rootfs, proc, "");
  r = run (&h, c, false, NULL, 0);
  TAP_OK (r == 0 && h.status == want, "%s: status %ld (got %ld)", what, want, h.status);
  fake_host_cleanup (&h);
}

static void
test_create_error (const char *args, const char *message, long status)
{
  struct fake_host h;
  cleanup_free char *proc = NULL, *c = NULL;
  const char *type = NULL;
  yajl_val v;

  if (asprintf (&proc, "\"args\":%s", args) < 0)
    abort ();
  c = make_config (rootfs, proc, "", "");
  TAP_OK (fake_host_boot (&h, rootfs) == 0 && fake_host_create (&h, c, false) < 0, "%s fails at create", args);
  /* runc: "unable to start container process: " + what the child hit */
  TAP_OK (h.error && strncmp (h.error, "unable to start container process: ", 35) == 0
              && strcmp (h.error + 35, message) == 0 && h.error_status == status,
          "message `unable to start container process: %s` status %ld (got `%s` %ld)", message, status,
          h.error ? h.error : "", h.error_status);
  /* The guest waits for bye, then powers off. */
  fake_host_send (&h, "{\"type\":\"bye\"}");
  v = fake_host_recv (&h, &type, 3000);
  TAP_OK (v == NULL, "nothing more after the error");
  if (v)
    yajl_tree_free (v);
  fake_host_cleanup (&h);
}

static void
test_stdout_stderr (void)
{
  struct fake_host h;
  cleanup_free char *c = make_config (rootfs, "\"args\":[\"testinit\",\"out-err\",\"200\"]", "", "");
  char want_out[8192] = "", want_err[8192] = "";
  int i;

  for (i = 0; i < 200; i++)
    {
      snprintf (want_out + strlen (want_out), sizeof want_out - strlen (want_out), "out %d\n", i);
      snprintf (want_err + strlen (want_err), sizeof want_err - strlen (want_err), "err %d\n", i);
    }
  TAP_OK (run (&h, c, false, NULL, 0) == 0, "out-err ran");
  TAP_OK (h.out.buf && strcmp (h.out.buf, want_out) == 0, "stdout has exactly the stdout lines, in order");
  TAP_OK (h.err.buf && strcmp (h.err.buf, want_err) == 0, "stderr has exactly the stderr lines, in order");
  fake_host_cleanup (&h);
}

static void
test_stdin (void)
{
  struct fake_host h;
  cleanup_free char *c = make_config (rootfs, "\"args\":[\"testinit\",\"cat\"]", "", "");
  cleanup_free char *big = malloc (3 << 20);
  size_t i, n = 3 << 20;
  bool same;

  TAP_OK (run (&h, c, true, "abc", 3) == 0 && h.out.buf && strcmp (h.out.buf, "abc") == 0
              && h.err.buf && strcmp (h.err.buf, "cat-bytes=3\n") == 0 && h.status == 0,
          "stdin data and EOF reach the process");
  fake_host_cleanup (&h);

  TAP_OK (run (&h, c, false, NULL, 0) == 0 && h.out.len == 0 && h.err.buf
              && strcmp (h.err.buf, "cat-bytes=0\n") == 0,
          "\"stdin\":false gives /dev/null");
  fake_host_cleanup (&h);

  for (i = 0; i < n; i++)
    big[i] = (char) (i * 7 + (i >> 12));
  TAP_OK (run (&h, c, true, big, n) == 0, "3 MiB through stdin and stdout");
  same = h.out.len == n && memcmp (h.out.buf, big, n) == 0;
  TAP_OK (same, "3 MiB round trip intact (got %zu bytes)", h.out.len);
  fake_host_cleanup (&h);
}

static void
test_large_output (void)
{
  struct fake_host h;
  cleanup_free char *c = make_config (rootfs, "\"args\":[\"testinit\",\"write-bytes\",\"4194304\"]", "", "");
  size_t i;
  bool ok;

  TAP_OK (run (&h, c, false, NULL, 0) == 0 && h.status == 0, "4 MiB of output");
  ok = h.out.len == 4194304;
  for (i = 0; ok && i < h.out.len; i++)
    ok = (unsigned char) h.out.buf[i] == i % 251;
  TAP_OK (ok, "4 MiB of output intact (got %zu bytes)", h.out.len);
  fake_host_cleanup (&h);
}

static void
test_dev_stdout (void)
{
  struct fake_host h;
  cleanup_free char *c
      = make_config (rootfs, "\"args\":[\"testinit\",\"write\",\"/dev/stdout\",\"via-dev-stdout\"]", "", "");
  TAP_OK (run (&h, c, false, NULL, 0) == 0 && h.out.buf && strstr (h.out.buf, "via-dev-stdout")
              && h.status == 0,
          "/dev/stdout can be opened (a pipe, as under runc)");
  fake_host_cleanup (&h);
}

static void
test_background_child (void)
{
  struct fake_host h;
  cleanup_free char *c = make_config (rootfs, "\"args\":[\"testinit\",\"background\",\"1000\"]", "", "");
  cleanup_free char *c2 = make_config_nopidns (rootfs, "\"args\":[\"testinit\",\"background\",\"1000\"]", "");
  time_t t0 = time (NULL);

  TAP_OK (run (&h, c, false, NULL, 0) == 0 && h.status == 0 && time (NULL) - t0 < 4,
          "a child left holding stdout does not delay exit (pid namespace)");
  fake_host_cleanup (&h);
  t0 = time (NULL);
  TAP_OK (run (&h, c2, false, NULL, 0) == 0 && h.status == 0 && time (NULL) - t0 < 4,
          "a child left holding stdout does not delay exit (no pid namespace)");
  fake_host_cleanup (&h);
}

static void
test_signals (void)
{
  struct fake_host h;
  cleanup_free char *sleep_nopid = make_config_nopidns (rootfs, "\"args\":[\"testinit\",\"sleep\",\"100\"]", "");
  cleanup_free char *sleep_pid = make_config (rootfs, "\"args\":[\"testinit\",\"sleep\",\"100\"]", "", "");
  cleanup_free char *trap = make_config (rootfs, "\"args\":[\"testinit\",\"trap\",\"USR1\",\"7\"]", "", "");
  int ok;

  ok = fake_host_boot (&h, rootfs) == 0 && fake_host_create (&h, sleep_nopid, false) == 0 && fake_host_start (&h) == 0
       && fake_host_send (&h, "{\"type\":\"signal\",\"signal\":15,\"all\":false}") == 0
       && fake_host_finish (&h, NULL, 0) == 0;
  TAP_OK (ok && h.status == 143, "SIGTERM: status 143 (got %ld)", h.status);
  fake_host_cleanup (&h);

  ok = fake_host_boot (&h, rootfs) == 0 && fake_host_create (&h, sleep_pid, false) == 0 && fake_host_start (&h) == 0
       && fake_host_send (&h, "{\"type\":\"signal\",\"signal\":9,\"all\":false}") == 0
       && fake_host_finish (&h, NULL, 0) == 0;
  TAP_OK (ok && h.status == 137, "SIGKILL to a pid-namespace init: status 137 (got %ld)", h.status);
  fake_host_cleanup (&h);

  ok = fake_host_boot (&h, rootfs) == 0 && fake_host_create (&h, sleep_pid, false) == 0
       && fake_host_send (&h, "{\"type\":\"signal\",\"signal\":9,\"all\":true}") == 0
       && fake_host_finish (&h, NULL, 0) == 0;
  TAP_OK (ok && h.status == 137, "SIGKILL (all) before start: status 137 (got %ld)", h.status);
  fake_host_cleanup (&h);

  ok = fake_host_boot (&h, rootfs) == 0 && fake_host_create (&h, trap, false) == 0 && fake_host_start (&h) == 0
       && fake_host_read_until (&h, &h.out, "ready\n", 5000) == 0
       && fake_host_send (&h, "{\"type\":\"signal\",\"signal\":10,\"all\":true}") == 0
       && fake_host_finish (&h, NULL, 0) == 0;
  TAP_OK (ok && h.status == 7 && h.out.buf && strstr (h.out.buf, "got USR1"), "a trapped signal is delivered");
  fake_host_cleanup (&h);
}

static void
test_ps_stats (void)
{
  struct fake_host h;
  cleanup_free char *c = make_config (rootfs, "\"args\":[\"testinit\",\"spawn\",\"sleep\",\"100\"]", "", "");
  const char *type = NULL;
  yajl_val v;
  int ok;

  ok = fake_host_boot (&h, rootfs) == 0 && fake_host_create (&h, c, false) == 0 && fake_host_start (&h) == 0;
  {
    struct timespec ts = { 0, 200 * 1000 * 1000 };
    nanosleep (&ts, NULL);
  }
  fake_host_send (&h, "{\"type\":\"ps\"}");
  v = fake_host_recv (&h, &type, 3000);
  {
    yajl_val pids = proto_get (v, "pids");
    TAP_OK (ok && v && strcmp (type, "ps") == 0 && YAJL_IS_ARRAY (pids) && pids->u.array.len == 2
                && YAJL_GET_INTEGER (pids->u.array.values[0]) > 0,
            "ps lists the container's two processes (got %zu)", YAJL_IS_ARRAY (pids) ? pids->u.array.len : 0);
  }
  if (v)
    yajl_tree_free (v);
  fake_host_send (&h, "{\"type\":\"stats\"}");
  v = fake_host_recv (&h, &type, 3000);
  {
    long long pids = 0, usage = 0;
    TAP_OK (v && strcmp (type, "stats") == 0 && proto_get_int (v, "pids", &pids) == 0 && pids == 2
                && proto_get_int (proto_get (v, "memory"), "usage", &usage) == 0 && usage > 0
                && proto_get (proto_get (v, "cpu"), "usage_ns"),
            "stats: memory, cpu, pids");
  }
  if (v)
    yajl_tree_free (v);
  fake_host_send (&h, "{\"type\":\"signal\",\"signal\":9,\"all\":true}");
  TAP_OK (fake_host_finish (&h, NULL, 0) == 0 && h.status == 137, "signal all ends the container");
  fake_host_cleanup (&h);
}

static void
expect_reply (struct fake_host *h, const char *raw, const char *want, const char *what)
{
  const char *type = NULL, *m;
  yajl_val v;
  proto_send (h->control, raw, strlen (raw), NULL);
  v = fake_host_recv (h, &type, 3000);
  m = v ? proto_get_string (v, "message") : NULL;
  TAP_OK (v && strcmp (type, "error") == 0 && m && strstr (m, want), "%s: `%s` (got `%s`)", what, want,
          m ? m : "nothing");
  if (v)
    yajl_tree_free (v);
}

static void
test_protocol_errors (void)
{
  struct fake_host h;
  cleanup_free char *c = make_config (rootfs, "\"args\":[\"testinit\",\"exit\",\"3\"]", "", "");
  char log[256], *text = NULL;
  size_t len = 0;
  int status = -1;

  TAP_OK (fake_host_boot (&h, rootfs) == 0, "boot for malformed messages");
  expect_reply (&h, "{not json", "invalid message: lexical error", "invalid JSON");
  expect_reply (&h, "[1,2]", "invalid message: not an object with a string `type`", "not an object");
  expect_reply (&h, "{\"type\":7}", "invalid message: not an object with a string `type`", "type not a string");
  expect_reply (&h, "{\"type\":\"bogus\"}", "unknown message type bogus", "unknown type");
  expect_reply (&h, "{\"type\":\"start\"}", "not in the created state", "start before config");
  expect_reply (&h, "{\"type\":\"config\",\"config\":{\"ociVersion\":1}}",
                "loading config.json: ociVersion: expected a string", "bad config.json");
  fake_host_cleanup (&h);

  TAP_OK (fake_host_boot (&h, rootfs) == 0, "boot for a config without process");
  expect_reply (&h, "{\"type\":\"config\",\"config\":{\"ociVersion\":\"1.0.0\"}}",
                "loading config.json: process: missing required field", "config without process");
  fake_host_cleanup (&h);

  TAP_OK (fake_host_boot (&h, rootfs) == 0 && fake_host_create (&h, c, false) == 0, "created");
  expect_reply (&h, "{\"type\":\"config\",\"config\":{}}", "already configured", "a second config");
  expect_reply (&h, "{\"type\":\"signal\"}", "expected a signal number", "signal without number");
  TAP_OK (fake_host_start (&h) == 0 && fake_host_finish (&h, NULL, 0) == 0 && h.status == 3,
          "still works after malformed messages");
  fake_host_cleanup (&h);

  /* The host speaks another version: it answers hello with an error. */
  TAP_OK (fake_host_boot (&h, rootfs) == 0, "boot for a version mismatch");
  fake_host_send (&h, "{\"type\":\"error\",\"message\":\"runvm-init speaks protocol 1, runvm speaks 2: reinstall "
                      "runvm-init\"}");
  if (waitpid (h.init_pid, &status, 0) == h.init_pid)
    h.init_pid = 0;
  snprintf (log, sizeof log, "%s/init.log", h.dir);
  read_file (log, &text, &len, NULL);
  TAP_OK (WIFEXITED (status) && WEXITSTATUS (status) == 1 && text
              && strstr (text, "the host reports: runvm-init speaks protocol 1, runvm speaks 2: reinstall runvm-init"),
          "version mismatch: the host's message is logged and the guest stops");
  free (text);
  fake_host_cleanup (&h);

  /* Frames over the limit or cut short end the session. */
  TAP_OK (fake_host_boot (&h, rootfs) == 0, "boot for a truncated frame");
  if (write (h.control, "\0\0\0\x20{\"ty", 8) == 8)
    shutdown (h.control, SHUT_WR);
  if (waitpid (h.init_pid, &status, 0) == h.init_pid)
    h.init_pid = 0;
  TAP_OK (WIFEXITED (status) && WEXITSTATUS (status) == 1, "a truncated frame ends runvm-init");
  fake_host_cleanup (&h);
}

int
main (void)
{
  if (geteuid () != 0)
    {
      printf ("1..0 # SKIP runvm-init host-mode tests need root\n");
      return 0;
    }
  signal (SIGPIPE, SIG_IGN);
  alarm (120);
  if (fake_host_setup_rootfs (rootfs, sizeof rootfs) < 0)
    {
      printf ("Bail out! cannot build the test rootfs (is tests/init/testinit built?)\n");
      return 1;
    }
  test_echo ();
  test_exit_code ("[\"testinit\",\"exit\",\"0\"]", 0, "exit 0");
  test_exit_code ("[\"testinit\",\"exit\",\"42\"]", 42, "exit 42");
  test_exit_code ("[\"testinit\",\"kill-self\",\"KILL\"]", 137, "killed by SIGKILL");
  test_exit_code ("[\"testinit\",\"kill-self\",\"TERM\"]", 143, "killed by SIGTERM");
  test_create_error ("[\"nope\"]", "exec: \"nope\": executable file not found in $PATH", 127);
  test_create_error ("[\"/etc/passwd\"]", "exec: \"/etc/passwd\": permission denied", 126);
  test_create_error ("[\"/bin/nope\"]", "exec: \"/bin/nope\": stat /bin/nope: no such file or directory", 127);
  test_create_error ("[\"/etc\"]", "exec: \"/etc\": is a directory", 126);
  test_stdout_stderr ();
  test_stdin ();
  test_large_output ();
  test_dev_stdout ();
  test_background_child ();
  test_signals ();
  test_ps_stats ();
  test_protocol_errors ();
  if (getenv ("KEEP_TEST_DIRS") == NULL)
    remove_tree (rootfs, NULL);
  return tap_done ();
}
