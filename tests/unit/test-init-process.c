/* runvm-init in host mode: what the container process sees. User, groups,
 * umask, cwd, env, rlimits, capabilities, no_new_privs, seccomp, the
 * terminal, mounts, masked and read-only paths, devices, and exec. Uses
 * tests/init/testinit as the workload. Needs root. */
#include <config.h>
#include "tap.h"
#include "init-host.h"
#include "proto.h"
#include "utils.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

static char rootfs[128];

/* Runs a container; returns its stdout (caller frees) and status. */
static char *
run_full (const char *process, const char *linux_extra, const char *top_extra, bool pidns, long *status,
          char **error)
{
  struct fake_host h;
  cleanup_free char *c = pidns ? make_config (rootfs, process, linux_extra, top_extra)
                               : make_config_nopidns (rootfs, process, linux_extra);
  char *out = NULL;

  *status = -1;
  if (fake_host_boot (&h, rootfs) == 0 && fake_host_create (&h, c, false) == 0 && fake_host_start (&h) == 0
      && fake_host_finish (&h, NULL, 0) == 0)
    {
      *status = h.status;
      out = strdup (h.out.buf ? h.out.buf : "");
    }
  if (error)
    *error = h.error ? strdup (h.error) : NULL;
  fake_host_cleanup (&h);
  return out;
}

static char *
run_out (const char *process, const char *linux_extra, long *status)
{
  return run_full (process, linux_extra, "", true, status, NULL);
}

static bool
has_line (const char *out, const char *line)
{
  size_t n = strlen (line);
  const char *p = out;
  while (p && (p = strstr (p, line)))
    {
      if ((p == out || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
        return true;
      p += n;
    }
  return false;
}

static void
test_user (void)
{
  long st;
  cleanup_free char *out = run_out ("\"args\":[\"testinit\",\"id\"],\"user\":{\"uid\":1000,\"gid\":1001,"
                                    "\"additionalGids\":[5,6],\"umask\":63}",
                                    "", &st);
  TAP_OK (st == 0 && out && has_line (out, "uid=1000") && has_line (out, "euid=1000") && has_line (out, "gid=1001")
              && has_line (out, "groups=5,6") && has_line (out, "umask=0077"),
          "user: uid, gid, additional gids, umask");
  free (out);
  out = run_out ("\"args\":[\"testinit\",\"id\"]", "", &st);
  TAP_OK (st == 0 && out && has_line (out, "uid=0") && has_line (out, "groups=") && has_line (out, "umask=0022"),
          "default user is root with no groups and umask 0022");
}

static void
test_cwd_env (void)
{
  long st;
  cleanup_free char *out = run_out ("\"args\":[\"testinit\",\"cwd\"],\"cwd\":\"/etc\"", "", &st);
  TAP_OK (st == 0 && out && has_line (out, "cwd=/etc"), "cwd");
  free (out);
  out = run_out ("\"args\":[\"testinit\",\"env\"],\"env\":[\"PATH=/bin\",\"FOO=bar baz\",\"EMPTY=\"]", "", &st);
  TAP_OK (st == 0 && out && has_line (out, "PATH=/bin") && has_line (out, "FOO=bar baz") && has_line (out, "EMPTY=")
              && has_line (out, "HOME=/root"),
          "env as given, HOME from /etc/passwd");
  free (out);
  out = run_out ("\"args\":[\"testinit\",\"env\"],\"user\":{\"uid\":1000,\"gid\":1000},\"env\":[\"PATH=/bin\","
                 "\"HOME=/custom\"]",
                 "", &st);
  TAP_OK (st == 0 && out && has_line (out, "HOME=/custom"), "HOME from env wins");
  free (out);
  out = run_out ("\"args\":[\"testinit\",\"args\",\"a b\",\"\",\"c\"]", "", &st);
  TAP_OK (st == 0 && out && has_line (out, "argc=5") && has_line (out, "argv[0]=testinit")
              && has_line (out, "argv[1]=args") && has_line (out, "argv[2]=a b") && has_line (out, "argv[3]=")
              && has_line (out, "argv[4]=c"),
          "args passed verbatim, argv[0] as given");
  free (out);
  out = run_out ("\"args\":[\"testinit\",\"hostname\"]", "", &st);
  TAP_OK (st == 0 && out && has_line (out, "hostname=ctr"), "hostname in the uts namespace");
  free (out);
  out = run_full ("\"args\":[\"testinit\",\"hostname\"]", "", "\"domainname\":\"example.org\",", true, &st, NULL);
  TAP_OK (st == 0 && out && has_line (out, "domainname=example.org"), "domainname");
  free (out);
  out = run_out ("\"args\":[\"testinit\",\"pid\"]", "", &st);
  TAP_OK (st == 0 && out && has_line (out, "pid=1") && has_line (out, "sid=1"),
          "the workload is PID 1 of its pid namespace and a session leader");
}

static void
test_cwd_missing (void)
{
  long st;
  char *error = NULL;
  char *out = run_full ("\"args\":[\"testinit\",\"cwd\"],\"cwd\":\"/does/not/exist\"", "", "", true, &st, &error);
  /* runc 1.1 creates a missing cwd in the container. */
  TAP_OK (out && strstr (out, "cwd=/does/not/exist"), "a missing cwd is created, as runc does (%s)",
          error ? error : "no error");
  free (out);
  free (error);
}

static void
test_rlimits (void)
{
  long st;
  cleanup_free char *out
      = run_out ("\"args\":[\"testinit\",\"rlimits\"],\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":2000,"
                 "\"soft\":1000},{\"type\":\"RLIMIT_CORE\",\"hard\":18446744073709551615,\"soft\":4096}]",
                 "", &st);
  char *error = NULL;
  TAP_OK (st == 0 && out && has_line (out, "RLIMIT_NOFILE=1000:2000") && has_line (out, "RLIMIT_CORE=4096:unlimited"),
          "rlimits");
  free (run_full ("\"args\":[\"testinit\",\"rlimits\"],\"rlimits\":[{\"type\":\"RLIMIT_BOGUS\",\"hard\":1,\"soft\":1}]",
                  "", "", true, &st, &error));
  TAP_OK (error && strcmp (error, "wrong rlimit value: RLIMIT_BOGUS") == 0,
          "unknown rlimit type is an error, in runc's words (%s)", error ? error : "none");
  free (error);
}

static void
test_caps (void)
{
  long st;
  cleanup_free char *out = run_out (
      "\"args\":[\"testinit\",\"caps\"],\"user\":{\"uid\":1000,\"gid\":1000},\"capabilities\":{"
      "\"bounding\":[\"CAP_CHOWN\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],\"effective\":[\"CAP_CHOWN\",\"CAP_KILL\"],"
      "\"permitted\":[\"CAP_CHOWN\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],\"inheritable\":[\"CAP_NET_BIND_SERVICE\"],"
      "\"ambient\":[\"CAP_NET_BIND_SERVICE\",\"CAP_NOT_A_CAP\"]}",
      "", &st);
  /* After execve a non-root user keeps only the ambient set (as with runc). */
  TAP_OK (st == 0 && out && has_line (out, "CapBnd=0000000000000421") && has_line (out, "CapPrm=0000000000000400")
              && has_line (out, "CapEff=0000000000000400") && has_line (out, "CapInh=0000000000000400")
              && has_line (out, "CapAmb=0000000000000400"),
          "capabilities of a non-root user: bounding, inheritable, ambient");
  free (out);
  out = run_out ("\"args\":[\"testinit\",\"caps\"],\"capabilities\":{\"bounding\":[\"CAP_CHOWN\"],"
                 "\"effective\":[\"CAP_CHOWN\"],\"permitted\":[\"CAP_CHOWN\"]},\"noNewPrivileges\":true",
                 "", &st);
  TAP_OK (st == 0 && out && has_line (out, "CapBnd=0000000000000001") && has_line (out, "CapEff=0000000000000001")
              && has_line (out, "CapInh=0000000000000000") && has_line (out, "NoNewPrivs=1")
              && has_line (out, "Seccomp=0"),
          "root with one capability, no_new_privs");
}

static void
test_seccomp (void)
{
  static const char *const profile
      = "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\"],"
        "\"syscalls\":[{\"names\":[\"mkdir\",\"mkdirat\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":42},"
        "{\"names\":[\"getcwd\"],\"action\":\"SCMP_ACT_ERRNO\"},"
        "{\"names\":[\"no_such_syscall\"],\"action\":\"SCMP_ACT_KILL\"},"
        "{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":7,"
        "\"args\":[{\"index\":0,\"value\":8,\"op\":\"SCMP_CMP_EQ\"}]},"
        "{\"names\":[\"sethostname\"],\"action\":\"SCMP_ACT_KILL_PROCESS\"}]},";
  cleanup_free char *with_nnp = NULL, *without_nnp = NULL, *deny_default = NULL;
  long st;
  char *out;

  if (asprintf (&with_nnp, "%s", profile) < 0 || asprintf (&without_nnp, "%s", profile) < 0)
    abort ();
  out = run_out ("\"args\":[\"testinit\",\"syscall-errno\",\"mkdir\"],\"noNewPrivileges\":true", with_nnp, &st);
  TAP_OK (st == 0 && out && has_line (out, "errno=42"), "seccomp: SCMP_ACT_ERRNO with errnoRet (no_new_privs)");
  free (out);
  out = run_out ("\"args\":[\"testinit\",\"syscall-errno\",\"mkdir\"]", without_nnp, &st);
  TAP_OK (st == 0 && out && has_line (out, "errno=42"), "seccomp: loaded before the capabilities drop without no_new_privs");
  free (out);
  out = run_out ("\"args\":[\"testinit\",\"syscall-errno\",\"getcwd\"]", with_nnp, &st);
  TAP_OK (st == 0 && out && has_line (out, "errno=1"), "seccomp: SCMP_ACT_ERRNO defaults to EPERM");
  free (out);
  out = run_out ("\"args\":[\"testinit\",\"syscall-errno\",\"personality\",\"8\"]", with_nnp, &st);
  TAP_OK (st == 0 && out && has_line (out, "errno=7"), "seccomp: argument condition matches");
  free (out);
  out = run_out ("\"args\":[\"testinit\",\"syscall-errno\",\"personality\",\"0xffffffff\"]", with_nnp, &st);
  TAP_OK (st == 0 && out && has_line (out, "errno=0"), "seccomp: argument condition does not match");
  free (out);
  out = run_out ("\"args\":[\"testinit\",\"syscall-errno\",\"sethostname\"]", with_nnp, &st);
  TAP_OK (st == 128 + SIGSYS, "seccomp: SCMP_ACT_KILL_PROCESS (status %ld)", st);
  free (out);
  out = run_out ("\"args\":[\"testinit\",\"caps\"]", with_nnp, &st);
  TAP_OK (st == 0 && out && has_line (out, "Seccomp=2"), "seccomp: filter mode");
  free (out);

  if (asprintf (&deny_default,
                "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38,\"syscalls\":[{\"names\":["
                "\"read\",\"write\",\"exit\",\"exit_group\",\"execve\",\"brk\",\"arch_prctl\",\"set_tid_address\","
                "\"set_robust_list\",\"rseq\",\"prlimit64\",\"mprotect\",\"readlink\",\"uname\",\"newfstatat\","
                "\"fstat\",\"getrandom\",\"mmap\",\"munmap\",\"ioctl\",\"close\",\"openat\",\"lseek\"],"
                "\"action\":\"SCMP_ACT_ALLOW\"}]},")
      < 0)
    abort ();
  out = run_out ("\"args\":[\"testinit\",\"syscall-errno\",\"getpid\"],\"noNewPrivileges\":true", deny_default, &st);
  TAP_OK (st == 0 && out && has_line (out, "errno=38"), "seccomp: defaultErrnoRet");
  free (out);
  {
    char *error = NULL;
    free (run_full ("\"args\":[\"testinit\",\"exit\"]",
                    "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_BOGUS\"},", "", true, &st, &error));
    TAP_OK (error && strcmp (error, "unable to start container process: seccomp: unknown action SCMP_ACT_BOGUS") == 0, "seccomp: unknown action (%s)",
            error ? error : "");
    free (error);
  }
}

static void
test_mounts (void)
{
  char dir[] = "/tmp/runvm-test-bind-XXXXXX", path[256];
  cleanup_free char *linux_extra = NULL, *top = NULL;
  long st;
  char *out;
  int fd;

  out = run_out ("\"args\":[\"testinit\",\"read\",\"/proc/version\"]",
                 "\"maskedPaths\":[\"/proc/version\",\"/proc/tty\",\"/does/not/exist\"],", &st);
  TAP_OK (st == 0 && out && out[0] == '\0', "maskedPaths: a file reads empty");
  free (out);
  out = run_out ("\"args\":[\"testinit\",\"ls\",\"/proc/tty\"]", "\"maskedPaths\":[\"/proc/version\",\"/proc/tty\"],",
                 &st);
  TAP_OK (st == 0 && out && out[0] == '\0', "maskedPaths: a directory is empty");
  free (out);
  out = run_out ("\"args\":[\"testinit\",\"write\",\"/proc/sys/kernel/domainname\",\"x\"]",
                 "\"readonlyPaths\":[\"/proc/sys\"],", &st);
  TAP_OK (st == 1 && out && has_line (out, "errno=30"), "readonlyPaths: EROFS");
  free (out);
  {
    /* The extra members come first, and the first of a name wins. */
    cleanup_free char *root = NULL;
    if (asprintf (&root, "\"root\":{\"path\":\"%s\",\"readonly\":true},", rootfs) < 0)
      abort ();
    out = run_full ("\"args\":[\"testinit\",\"write\",\"/newfile\",\"x\"]", "", root, true, &st, NULL);
    TAP_OK (st == 1 && out && has_line (out, "errno=30"), "root.readonly");
    free (out);
  }

  if (mkdtemp (dir) == NULL)
    return;
  snprintf (path, sizeof path, "%s/hello.txt", dir);
  fd = open (path, O_WRONLY | O_CREAT, 0644);
  if (fd < 0 || write (fd, "from the host\n", 14) != 14)
    return;
  close (fd);
  if (asprintf (&top,
                "\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
                "{\"destination\":\"/data/sub\",\"type\":\"bind\",\"source\":\"%s\",\"options\":[\"rbind\",\"ro\"]},"
                "{\"destination\":\"/etc/single\",\"type\":\"bind\",\"source\":\"%s\",\"options\":[\"bind\"]},"
                "{\"destination\":\"/run\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"size=1m\"]}],",
                dir, path)
      < 0)
    abort ();
  out = run_full ("\"args\":[\"testinit\",\"read\",\"/data/sub/hello.txt\"]", "", top, true, &st, NULL);
  TAP_OK (st == 0 && out && strcmp (out, "from the host\n") == 0, "bind mount of a directory");
  free (out);
  out = run_full ("\"args\":[\"testinit\",\"write\",\"/data/sub/new\",\"x\"]", "", top, true, &st, NULL);
  TAP_OK (st == 1 && out && has_line (out, "errno=30"), "a ro bind mount is read-only");
  free (out);
  out = run_full ("\"args\":[\"testinit\",\"read\",\"/etc/single\"]", "", top, true, &st, NULL);
  TAP_OK (st == 0 && out && strcmp (out, "from the host\n") == 0, "bind mount of a single file");
  free (out);
  out = run_full ("\"args\":[\"testinit\",\"ls\",\"/dev\"]", "", top, true, &st, NULL);
  TAP_OK (st == 0 && out && !has_line (out, "null"), "no /dev tmpfs: no default devices added");
  free (out);
  unlink (path);
  rmdir (dir);

  {
    /* A symlink in the rootfs cannot send a mount outside it. */
    char link[256], host_target[] = "/tmp/runvm-test-escape-target";
    struct stat sb;
    cleanup_free char *esc = NULL;
    snprintf (link, sizeof link, "%s/escape", rootfs);
    rmdir (host_target);
    if (symlink ("/../../../tmp/runvm-test-escape-target", link) < 0)
      abort ();
    if (asprintf (&esc, "\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
                        "{\"destination\":\"/escape/sub\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"}],")
        < 0)
      abort ();
    out = run_full ("\"args\":[\"testinit\",\"ls\",\"/tmp/runvm-test-escape-target\"]", "", esc, true, &st, NULL);
    TAP_OK (st == 0 && out && has_line (out, "sub") && stat (host_target, &sb) < 0,
            "mount destinations resolve symlinks inside the rootfs");
    free (out);
    unlink (link);
    snprintf (link, sizeof link, "%s/tmp/runvm-test-escape-target/sub", rootfs);
    rmdir (link);
    snprintf (link, sizeof link, "%s/tmp/runvm-test-escape-target", rootfs);
    rmdir (link);
  }
  out = run_out ("\"args\":[\"testinit\",\"stat\",\"/dev/null\"]", "", &st);
  TAP_OK (st == 0 && out && has_line (out, "mode=20666") && has_line (out, "rdev=1:3"), "/dev/null is created");
  free (out);
  out = run_out ("\"args\":[\"testinit\",\"ls\",\"/dev\"]", "", &st);
  TAP_OK (st == 0 && out && has_line (out, "zero") && has_line (out, "full") && has_line (out, "urandom")
              && has_line (out, "tty") && has_line (out, "ptmx") && has_line (out, "fd") && has_line (out, "stdin")
              && has_line (out, "pts") && has_line (out, "shm"),
          "the default /dev like runc's");
  free (out);
  if (asprintf (&linux_extra, "\"devices\":[{\"path\":\"/dev/custom/fuse\",\"type\":\"c\",\"major\":10,\"minor\":229,"
                              "\"fileMode\":384,\"uid\":1000,\"gid\":1001}],")
      < 0)
    abort ();
  out = run_out ("\"args\":[\"testinit\",\"stat\",\"/dev/custom/fuse\"]", linux_extra, &st);
  TAP_OK (st == 0 && out && has_line (out, "mode=20600") && has_line (out, "rdev=10:229") && has_line (out, "uid=1000")
              && has_line (out, "gid=1001"),
          "linux.devices");
  free (out);
  out = run_out ("\"args\":[\"testinit\",\"read\",\"/proc/sys/kernel/shmmni\"]", "\"sysctl\":{\"kernel.shmmni\":\"1234\"},",
                 &st);
  TAP_OK (st == 0 && out && has_line (out, "1234"), "sysctl in the ipc namespace");
  free (out);
  out = run_out ("\"args\":[\"testinit\",\"read\",\"/proc/self/oom_score_adj\"],\"oomScoreAdj\":123", "", &st);
  TAP_OK (st == 0 && out && has_line (out, "123"), "oomScoreAdj");
  free (out);
}

static void
test_terminal (void)
{
  struct fake_host h;
  cleanup_free char *c = make_config (
      rootfs, "\"args\":[\"testinit\",\"tty\"],\"terminal\":true,\"consoleSize\":{\"height\":30,\"width\":100}", "", "");
  cleanup_free char *w = make_config (rootfs, "\"args\":[\"testinit\",\"winch\"],\"terminal\":true", "", "");
  cleanup_free char *cat = make_config (rootfs, "\"args\":[\"testinit\",\"cat\"],\"terminal\":true", "", "");
  int ok;

  ok = fake_host_boot (&h, rootfs) == 0 && fake_host_create (&h, c, false) == 0 && fake_host_start (&h) == 0
       && fake_host_finish (&h, NULL, 0) == 0;
  TAP_OK (ok && h.status == 0 && h.tty.buf && strstr (h.tty.buf, "stdin_tty=1") && strstr (h.tty.buf, "stdout_tty=1")
              && strstr (h.tty.buf, "stderr_tty=1") && strstr (h.tty.buf, "rows=30") && strstr (h.tty.buf, "cols=100")
              && strstr (h.tty.buf, "controlling_tty=1") && strstr (h.tty.buf, "ttyname=/dev/pts/0"),
          "terminal: a pty from the container's devpts, controlling tty, consoleSize");
  fake_host_cleanup (&h);

  ok = fake_host_boot (&h, rootfs) == 0 && fake_host_create (&h, w, false) == 0 && fake_host_start (&h) == 0
       && fake_host_read_until (&h, &h.tty, "ready", 5000) == 0
       && fake_host_send (&h, "{\"type\":\"resize\",\"exec\":-1,\"rows\":40,\"cols\":120}") == 0
       && fake_host_finish (&h, NULL, 0) == 0;
  TAP_OK (ok && h.tty.buf && strstr (h.tty.buf, "rows=40") && strstr (h.tty.buf, "cols=120"),
          "resize: TIOCSWINSZ and SIGWINCH");
  fake_host_cleanup (&h);

  ok = fake_host_boot (&h, rootfs) == 0 && fake_host_create (&h, cat, false) == 0 && fake_host_start (&h) == 0
       && write (h.tty.fd, "typed\n\x04", 7) == 7 && fake_host_finish (&h, NULL, 0) == 0;
  TAP_OK (ok && h.status == 0 && h.tty.buf && strstr (h.tty.buf, "typed\r\ntyped\r\n"),
          "terminal input is echoed and read; ^D ends it");
  fake_host_cleanup (&h);
}

static yajl_val
recv_type (struct fake_host *h, const char *want)
{
  const char *type = NULL;
  yajl_val v;
  while ((v = fake_host_recv (h, &type, 5000)))
    {
      if (strcmp (type, want) == 0)
        return v;
      yajl_tree_free (v);
    }
  return NULL;
}

static void
read_all_fd (int fd, char *buf, size_t len)
{
  size_t got = 0;
  read_all (fd, buf, len - 1, &got);
  buf[got] = '\0';
}

static int
count_fds (pid_t pid)
{
  char path[64];
  DIR *d;
  int n = 0;
  snprintf (path, sizeof path, "/proc/%d/fd", (int) pid);
  d = opendir (path);
  if (d == NULL)
    return -1;
  while (readdir (d))
    n++;
  closedir (d);
  return n;
}

static void
test_exec (void)
{
  struct fake_host h;
  cleanup_free char *c = make_config (rootfs, "\"args\":[\"testinit\",\"sleep\",\"100\"],\"user\":{\"uid\":1000}",
                                      "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":["
                                      "\"mkdir\",\"mkdirat\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":42}]},",
                                      "");
  char buf[4096];
  long long v = -1;
  yajl_val m;
  int out, err, in, tty;

  TAP_OK (fake_host_boot (&h, rootfs) == 0 && fake_host_create (&h, c, false) == 0 && fake_host_start (&h) == 0,
          "exec: container running");
  fake_host_listen (&h, 2048);
  fake_host_listen (&h, 2049);
  fake_host_listen (&h, 2050);
  fake_host_send (&h, "{\"type\":\"exec\",\"exec\":0,\"process\":{\"args\":[\"testinit\",\"pid\"],"
                      "\"env\":[\"PATH=/bin\",\"X=1\"],\"cwd\":\"/tmp\",\"user\":{\"uid\":1000,\"gid\":1000}}}");
  in = fake_host_accept (&h, 2048, 3000);
  out = fake_host_accept (&h, 2049, 3000);
  err = fake_host_accept (&h, 2050, 3000);
  m = recv_type (&h, "exec-started");
  TAP_OK (m && proto_get_int (m, "pid", &v) == 0 && v > 0, "exec-started with a pid");
  if (m)
    yajl_tree_free (m);
  close (in);
  read_all_fd (out, buf, sizeof buf);
  /* Its parent, runvm-init, is outside the container's pid namespace. */
  TAP_OK (has_line (buf, "ppid=0") && !has_line (buf, "pid=1") && strstr (buf, "pid="),
          "exec runs in the container's pid namespace");
  m = recv_type (&h, "exec-exit");
  TAP_OK (m && proto_get_int (m, "exec", &v) == 0 && v == 0 && proto_get_int (m, "status", &v) == 0 && v == 0,
          "exec-exit with status 0");
  if (m)
    yajl_tree_free (m);
  close (out);
  close (err);

  /* An exec that fails to start. */
  fake_host_listen (&h, 2052);
  fake_host_listen (&h, 2053);
  fake_host_listen (&h, 2054);
  fake_host_send (&h, "{\"type\":\"exec\",\"exec\":1,\"stdin\":false,\"process\":{\"args\":[\"nope\"],\"cwd\":\"/\","
                      "\"env\":[\"PATH=/bin\"]}}");
  out = fake_host_accept (&h, 2053, 3000);
  err = fake_host_accept (&h, 2054, 3000);
  m = recv_type (&h, "exec-error");
  {
    const char *msg = m ? proto_get_string (m, "message") : NULL;
    TAP_OK (msg && strcmp (msg, "unable to start container process: exec: \"nope\": executable file not found in $PATH") == 0
                && proto_get_int (m, "status", &v) == 0 && v == 127,
            "exec-error with runc's message and status 127");
  }
  if (m)
    yajl_tree_free (m);
  close (out);
  close (err);

  /* Exec sees the container's seccomp profile, user and a terminal. */
  fake_host_listen (&h, 2059);
  fake_host_send (&h, "{\"type\":\"exec\",\"exec\":2,\"process\":{\"args\":[\"testinit\",\"syscall-errno\",\"mkdir\"],\"cwd\":\"/\","
                      "\"terminal\":true,\"env\":[\"PATH=/bin\"]}}");
  tty = fake_host_accept (&h, 2059, 3000);
  m = recv_type (&h, "exec-started");
  if (m)
    yajl_tree_free (m);
  read_all_fd (tty, buf, sizeof buf);
  TAP_OK (strstr (buf, "errno=42"), "exec gets the container's seccomp profile, over a terminal");
  m = recv_type (&h, "exec-exit");
  TAP_OK (m != NULL, "terminal exec exits");
  if (m)
    yajl_tree_free (m);
  close (tty);

  fake_host_send (&h, "{\"type\":\"exec\",\"exec\":0,\"process\":{\"args\":[\"x\"],\"cwd\":\"/\"}}");
  m = recv_type (&h, "exec-error");
  TAP_OK (m && strstr (proto_get_string (m, "message"), "already in use"), "exec numbers are unique");
  if (m)
    yajl_tree_free (m);

  /* Many short execs (health checks) must not leak descriptors. */
  {
    int before, after, k, ok = 1;
    /* Measure both sides after a ps round trip, so what earlier tests left
     * closing has been processed; a leak is growth. */
    fake_host_send (&h, "{\"type\":\"ps\"}");
    m = recv_type (&h, "ps");
    if (m)
      yajl_tree_free (m);
    before = count_fds (h.init_pid);
    for (k = 3; k < 13; k++)
      {
        char msg[256];
        fake_host_listen (&h, 2048 + 4 * k + 1);
        fake_host_listen (&h, 2048 + 4 * k + 2);
        snprintf (msg, sizeof msg,
                  "{\"type\":\"exec\",\"exec\":%d,\"stdin\":false,\"process\":{\"args\":[\"testinit\",\"exit\","
                  "\"%d\"],\"cwd\":\"/\",\"env\":[\"PATH=/bin\"]}}",
                  k, k);
        fake_host_send (&h, msg);
        out = fake_host_accept (&h, 2048 + 4 * k + 1, 3000);
        err = fake_host_accept (&h, 2048 + 4 * k + 2, 3000);
        m = recv_type (&h, "exec-exit");
        ok = ok && m && proto_get_int (m, "status", &v) == 0 && v == k;
        if (m)
          yajl_tree_free (m);
        close (out);
        close (err);
      }
    fake_host_send (&h, "{\"type\":\"ps\"}");
    m = recv_type (&h, "ps");
    if (m)
      yajl_tree_free (m);
    after = count_fds (h.init_pid);
    TAP_OK (ok && before > 0 && after <= before, "10 execs: statuses right, no descriptor leaked (%d -> %d)", before,
            after);
  }

  fake_host_send (&h, "{\"type\":\"signal\",\"signal\":9}");
  TAP_OK (fake_host_finish (&h, NULL, 0) == 0 && h.status == 137, "container killed after the execs");
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
  test_user ();
  test_cwd_env ();
  test_cwd_missing ();
  test_rlimits ();
  test_caps ();
  test_seccomp ();
  test_mounts ();
  test_terminal ();
  test_exec ();
  if (getenv ("KEEP_TEST_DIRS") == NULL)
    remove_tree (rootfs, NULL);
  return tap_done ();
}
