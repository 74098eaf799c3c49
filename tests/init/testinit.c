/* testinit: the static helper copied into test root filesystems, so tests
 * need no image. One subcommand per property a test checks; output is
 * machine-parsable "key=value" lines. Usage: testinit COMMAND [ARGS...] */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static int
cmd_echo (int argc, char **argv)
{
  int i;
  for (i = 0; i < argc; i++)
    printf ("%s%s", i ? " " : "", argv[i]);
  printf ("\n");
  return 0;
}

/* Called with the whole command line, argv[0] included. */
static int
cmd_args (int argc, char **argv)
{
  int i;
  printf ("argc=%d\n", argc);
  for (i = 0; i < argc; i++)
    printf ("argv[%d]=%s\n", i, argv[i]);
  return 0;
}

static int
cmd_env (int argc, char **argv)
{
  extern char **environ;
  char **e;
  for (e = environ; *e; e++)
    printf ("%s\n", *e);
  return 0;
}

static int
cmd_cwd (int argc, char **argv)
{
  char buf[4096];
  if (getcwd (buf, sizeof buf) == NULL)
    {
      printf ("cwd-errno=%d\n", errno);
      return 1;
    }
  printf ("cwd=%s\n", buf);
  return 0;
}

static int
cmd_hostname (int argc, char **argv)
{
  struct utsname u;
  uname (&u);
  printf ("hostname=%s\ndomainname=%s\n", u.nodename, u.domainname);
  return 0;
}

static int
cmd_uname (int argc, char **argv)
{
  struct utsname u;
  uname (&u);
  printf ("sysname=%s\nrelease=%s\nmachine=%s\n", u.sysname, u.release, u.machine);
  return 0;
}

static int
cmd_id (int argc, char **argv)
{
  gid_t groups[256];
  int n = getgroups (256, groups), i;
  printf ("uid=%u\ngid=%u\neuid=%u\negid=%u\ngroups=", getuid (), getgid (), geteuid (), getegid ());
  for (i = 0; i < n; i++)
    printf ("%s%u", i ? "," : "", groups[i]);
  printf ("\numask=%04o\n", umask (0));
  return 0;
}

static int
cmd_caps (int argc, char **argv)
{
  static const char *const keys[] = { "CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:", "NoNewPrivs:",
                                      "Seccomp:" };
  char line[512];
  FILE *f = fopen ("/proc/self/status", "r");
  size_t k;
  if (f == NULL)
    {
      printf ("error=%s\n", strerror (errno));
      return 1;
    }
  while (fgets (line, sizeof line, f))
    for (k = 0; k < sizeof keys / sizeof keys[0]; k++)
      if (strncmp (line, keys[k], strlen (keys[k])) == 0)
        {
          char *v = line + strlen (keys[k]);
          v += strspn (v, " \t");
          printf ("%.*s=%s", (int) strlen (keys[k]) - 1, keys[k], v);
        }
  fclose (f);
  return 0;
}

static int
cmd_rlimits (int argc, char **argv)
{
  static const struct
  {
    const char *name;
    int resource;
  } lims[] = {
    { "RLIMIT_AS", RLIMIT_AS },         { "RLIMIT_CORE", RLIMIT_CORE },       { "RLIMIT_CPU", RLIMIT_CPU },
    { "RLIMIT_DATA", RLIMIT_DATA },     { "RLIMIT_FSIZE", RLIMIT_FSIZE },     { "RLIMIT_LOCKS", RLIMIT_LOCKS },
    { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK }, { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE }, { "RLIMIT_NICE", RLIMIT_NICE },
    { "RLIMIT_NOFILE", RLIMIT_NOFILE }, { "RLIMIT_NPROC", RLIMIT_NPROC },     { "RLIMIT_RSS", RLIMIT_RSS },
    { "RLIMIT_RTPRIO", RLIMIT_RTPRIO }, { "RLIMIT_RTTIME", RLIMIT_RTTIME },   { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
    { "RLIMIT_STACK", RLIMIT_STACK },
  };
  size_t i;
  for (i = 0; i < sizeof lims / sizeof lims[0]; i++)
    {
      struct rlimit rl;
      getrlimit (lims[i].resource, &rl);
      printf ("%s=", lims[i].name);
      if (rl.rlim_cur == RLIM_INFINITY)
        printf ("unlimited:");
      else
        printf ("%llu:", (unsigned long long) rl.rlim_cur);
      if (rl.rlim_max == RLIM_INFINITY)
        printf ("unlimited\n");
      else
        printf ("%llu\n", (unsigned long long) rl.rlim_max);
    }
  return 0;
}

static int
cmd_tty (int argc, char **argv)
{
  struct winsize ws;
  char *name = ttyname (0);
  int fd;
  printf ("stdin_tty=%d\nstdout_tty=%d\nstderr_tty=%d\n", isatty (0), isatty (1), isatty (2));
  printf ("ttyname=%s\n", name ? name : "none");
  if (ioctl (0, TIOCGWINSZ, &ws) == 0)
    printf ("rows=%u\ncols=%u\n", ws.ws_row, ws.ws_col);
  fd = open ("/dev/tty", O_RDWR | O_NOCTTY);
  printf ("controlling_tty=%d\n", fd >= 0);
  printf ("pgrp_is_fg=%d\n", tcgetpgrp (0) == getpgrp ());
  return 0;
}

static int
cmd_winch (int argc, char **argv)
{
  /* Waits for a SIGWINCH then prints the new size. */
  struct winsize ws;
  sigset_t set;
  int sig;
  sigemptyset (&set);
  sigaddset (&set, SIGWINCH);
  sigprocmask (SIG_BLOCK, &set, NULL);
  printf ("ready\n");
  fflush (stdout);
  sigwait (&set, &sig);
  ioctl (0, TIOCGWINSZ, &ws);
  printf ("rows=%u\ncols=%u\n", ws.ws_row, ws.ws_col);
  return 0;
}

static int
cmd_exit (int argc, char **argv)
{
  return argc > 0 ? atoi (argv[0]) : 0;
}

static int
cmd_sleep (int argc, char **argv)
{
  double secs = argc > 0 ? atof (argv[0]) : 1;
  struct timespec ts = { (time_t) secs, (long) ((secs - (time_t) secs) * 1e9) };
  while (nanosleep (&ts, &ts) < 0 && errno == EINTR)
    ;
  return 0;
}

static int
parse_signal (const char *s)
{
  static const struct
  {
    const char *name;
    int sig;
  } sigs[] = { { "HUP", SIGHUP },   { "INT", SIGINT },     { "QUIT", SIGQUIT }, { "KILL", SIGKILL },
               { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 },   { "TERM", SIGTERM }, { "WINCH", SIGWINCH },
               { "ALRM", SIGALRM }, { "SEGV", SIGSEGV },   { "ABRT", SIGABRT }, { "PIPE", SIGPIPE } };
  size_t i;
  if (strncmp (s, "SIG", 3) == 0)
    s += 3;
  for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    if (strcmp (s, sigs[i].name) == 0)
      return sigs[i].sig;
  return atoi (s);
}

static int
cmd_trap (int argc, char **argv)
{
  sigset_t set;
  int sig, want;
  if (argc < 1)
    return 2;
  want = parse_signal (argv[0]);
  sigemptyset (&set);
  sigaddset (&set, want);
  sigprocmask (SIG_BLOCK, &set, NULL);
  printf ("ready\n");
  fflush (stdout);
  sigwait (&set, &sig);
  printf ("got %s\n", argv[0]);
  fflush (stdout);
  return argc > 1 ? atoi (argv[1]) : 0;
}

static int
cmd_cat (int argc, char **argv)
{
  char buf[65536];
  ssize_t n;
  unsigned long long total = 0;
  while ((n = read (0, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    {
      ssize_t off = 0;
      if (n < 0)
        continue;
      while (off < n)
        {
          ssize_t w = write (1, buf + off, n - off);
          if (w < 0 && errno == EINTR)
            continue;
          if (w < 0)
            return 1;
          off += w;
        }
      total += n;
    }
  fprintf (stderr, "cat-bytes=%llu\n", total);
  return 0;
}

/* The pattern is byte i = i % 251 (a prime, so page-sized shifts show). */
static int
cmd_write_bytes (int argc, char **argv)
{
  unsigned long long n = argc > 0 ? strtoull (argv[0], NULL, 10) : 0, done = 0;
  int fd = argc > 1 && strcmp (argv[1], "stderr") == 0 ? 2 : 1;
  static char buf[251 * 65];
  size_t i;
  for (i = 0; i < sizeof buf; i++)
    buf[i] = (char) (i % 251);
  while (done < n)
    {
      size_t chunk = n - done < 251 * 64 ? n - done : 251 * 64;
      ssize_t w = write (fd, buf + done % 251, chunk);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        return 1;
      done += w;
    }
  return 0;
}

static int
cmd_stderr (int argc, char **argv)
{
  int i;
  for (i = 0; i < argc; i++)
    fprintf (stderr, "%s%s", i ? " " : "", argv[i]);
  fprintf (stderr, "\n");
  return 0;
}

/* Lines alternating between stdout and stderr. */
static int
cmd_out_err (int argc, char **argv)
{
  int n = argc > 0 ? atoi (argv[0]) : 1, i;
  for (i = 0; i < n; i++)
    {
      dprintf (1, "out %d\n", i);
      dprintf (2, "err %d\n", i);
    }
  return 0;
}

static int
cmd_pid (int argc, char **argv)
{
  printf ("pid=%d\nppid=%d\nsid=%d\n", getpid (), getppid (), getsid (0));
  return 0;
}

static int
cmd_syscall_errno (int argc, char **argv)
{
  char buf[256];
  long r = -1;
  if (argc < 1)
    return 2;
  errno = 0;
  if (strcmp (argv[0], "mkdir") == 0)
    {
      r = mkdir ("/tmp/.testinit-mkdir", 0700);
      if (r == 0)
        rmdir ("/tmp/.testinit-mkdir");
    }
  else if (strcmp (argv[0], "getcwd") == 0)
    r = syscall (SYS_getcwd, buf, sizeof buf) < 0 ? -1 : 0;
  else if (strcmp (argv[0], "getpid") == 0)
    r = syscall (SYS_getpid) < 0 ? -1 : 0;
  else if (strcmp (argv[0], "uname") == 0)
    {
      struct utsname u;
      r = uname (&u);
    }
  else if (strcmp (argv[0], "chdir") == 0)
    r = chdir ("/");
  else if (strcmp (argv[0], "sethostname") == 0)
    r = sethostname ("x", 1);
  else if (strcmp (argv[0], "personality") == 0)
    r = syscall (SYS_personality, argc > 1 ? strtoul (argv[1], NULL, 0) : 0xffffffffUL);
  else
    {
      printf ("unknown-syscall=%s\n", argv[0]);
      return 2;
    }
  printf ("result=%ld\nerrno=%d\n", r < 0 ? -1L : r, r < 0 ? errno : 0);
  return 0;
}

static int
cmd_read (int argc, char **argv)
{
  char buf[65536];
  ssize_t n;
  int fd;
  if (argc < 1)
    return 2;
  fd = open (argv[0], O_RDONLY);
  if (fd < 0)
    {
      printf ("errno=%d\n", errno);
      return 1;
    }
  while ((n = read (fd, buf, sizeof buf)) > 0)
    fwrite (buf, 1, n, stdout);
  if (n < 0)
    printf ("errno=%d\n", errno);
  close (fd);
  return n < 0;
}

static int
cmd_write (int argc, char **argv)
{
  int fd;
  if (argc < 2)
    return 2;
  fd = open (argv[0], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || write (fd, argv[1], strlen (argv[1])) < 0)
    {
      printf ("errno=%d\n", errno);
      return 1;
    }
  close (fd);
  printf ("written=%zu\n", strlen (argv[1]));
  return 0;
}

static int
cmd_ls (int argc, char **argv)
{
  DIR *d = opendir (argc > 0 ? argv[0] : ".");
  struct dirent *de;
  if (d == NULL)
    {
      printf ("errno=%d\n", errno);
      return 1;
    }
  while ((de = readdir (d)))
    if (strcmp (de->d_name, ".") && strcmp (de->d_name, ".."))
      printf ("%s\n", de->d_name);
  closedir (d);
  return 0;
}

static int
cmd_stat (int argc, char **argv)
{
  struct stat st;
  if (argc < 1)
    return 2;
  if (lstat (argv[0], &st) < 0)
    {
      printf ("errno=%d\n", errno);
      return 1;
    }
  printf ("mode=%o\nuid=%u\ngid=%u\nrdev=%u:%u\nsize=%lld\n", st.st_mode, st.st_uid, st.st_gid, major (st.st_rdev),
          minor (st.st_rdev), (long long) st.st_size);
  return 0;
}

/* Leaves a child behind that keeps stdout open, then exits: the runtime
 * must kill it when the container's init ends. */
static int
cmd_background (int argc, char **argv)
{
  pid_t pid = fork ();
  if (pid == 0)
    {
      sleep (argc > 0 ? atoi (argv[0]) : 1000);
      _exit (0);
    }
  printf ("child=%d\n", pid);
  return 0;
}

static int
cmd_kill_self (int argc, char **argv)
{
  int sig = argc > 0 ? parse_signal (argv[0]) : SIGKILL;
  fflush (stdout);
  signal (sig, SIG_DFL);
  kill (getpid (), sig);
  pause ();
  return 1;
}

/* Runs another testinit command as a child and reports its status. */
static int
cmd_spawn (int argc, char **argv)
{
  int status;
  pid_t pid;
  if (argc < 1)
    return 2;
  fflush (stdout);
  pid = fork ();
  if (pid == 0)
    {
      execv ("/proc/self/exe", argv - 1);
      _exit (127);
    }
  waitpid (pid, &status, 0);
  printf ("status=%d\n", WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status));
  return 0;
}

static const struct
{
  const char *name;
  int (*fn) (int, char **);
  const char *help;
} commands[] = {
  { "echo", cmd_echo, "ARGS... print the arguments" },
  { "args", cmd_args, "ARGS... argc and each argv[i], from argv[0]" },
  { "env", cmd_env, "print the environment" },
  { "cwd", cmd_cwd, "print the working directory" },
  { "hostname", cmd_hostname, "hostname and domainname" },
  { "uname", cmd_uname, "kernel name, release, machine" },
  { "id", cmd_id, "uid, gid, groups, umask" },
  { "caps", cmd_caps, "capability sets, NoNewPrivs, Seccomp" },
  { "rlimits", cmd_rlimits, "every rlimit as soft:hard" },
  { "tty", cmd_tty, "whether stdio are ttys, window size" },
  { "winch", cmd_winch, "wait for SIGWINCH, print the size" },
  { "exit", cmd_exit, "N: exit with status N" },
  { "sleep", cmd_sleep, "SECS: sleep" },
  { "trap", cmd_trap, "SIG [CODE]: wait for SIG, print \"got SIG\", exit CODE" },
  { "cat", cmd_cat, "stdin to stdout until EOF" },
  { "write-bytes", cmd_write_bytes, "N [stderr]: N bytes of i%251" },
  { "stderr", cmd_stderr, "TEXT: print TEXT on stderr" },
  { "out-err", cmd_out_err, "N: N lines on each of stdout and stderr" },
  { "pid", cmd_pid, "pid, ppid, sid" },
  { "syscall-errno", cmd_syscall_errno, "NAME: try a syscall, print its errno" },
  { "read", cmd_read, "FILE: print its content" },
  { "write", cmd_write, "FILE TEXT: write TEXT to FILE" },
  { "ls", cmd_ls, "DIR: list names" },
  { "stat", cmd_stat, "PATH: mode, owner, device" },
  { "background", cmd_background, "[SECS]: leave a sleeping child behind" },
  { "kill-self", cmd_kill_self, "SIG: die from SIG" },
  { "spawn", cmd_spawn, "COMMAND...: run a testinit command as a child" },
};

int
main (int argc, char **argv)
{
  size_t i;
  int r;
  if (argc < 2)
    {
      fprintf (stderr, "usage: testinit COMMAND [ARGS...]\n");
      for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf (stderr, "  %-14s %s\n", commands[i].name, commands[i].help);
      return 2;
    }
  setvbuf (stdout, NULL, _IOFBF, 1 << 16);
  for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp (argv[1], commands[i].name) == 0)
      {
        r = commands[i].fn == cmd_args ? cmd_args (argc, argv) : commands[i].fn (argc - 2, argv + 2);
        fflush (stdout);
        return r;
      }
  fprintf (stderr, "testinit: unknown command %s\n", argv[1]);
  return 2;
}
