/* State shared by the protocol agent (agent.c) and the process
 * lifecycle (container.c): the container and exec processes, their stdio
 * relays, and the one agent state machine. Internal to runvm-init. */
#ifndef RUNVM_GUEST_AGENT_H
#define RUNVM_GUEST_AGENT_H

#include "init.h"

#define DRAIN_TIMEOUT_MS 5000  /* stdio still open after the init died */
#define BYE_TIMEOUT_MS 10000   /* host silent after `exit` */
#define EXEC_DRAIN_TIMEOUT_MS 2000

enum agent_state
{
  WAIT_CONFIG,
  CREATING, /* process spawned, setting itself up */
  CREATED,  /* waiting for start */
  RUNNING,
  EXITING,  /* init reaped, draining stdio */
  EXITED,   /* exit sent, waiting for bye */
  FAILED,   /* creation failed, error sent */
};

struct guest_proc
{
  int id; /* -1: the container process; k: exec number k */
  pid_t pid;
  int sync_fd;
  struct loop_watch sync_w;
  bool got_ready, failed, started_sent;
  bool terminal;
  int tty_socket; /* the tty stream, until the master arrives */
  int tty_master; /* kept for TIOCSWINSZ */
  struct relay *in, *out, *err_, *tty_in, *tty_out;
  bool reaped;
  int status;
  bool exit_sent;
  bool released; /* an exec's relays and terminal were freed */
  int drain_timer;
  struct guest_proc *next;
};

struct agent
{
  int control;
  struct loop_watch control_w, signal_w;
  enum agent_state state;
  oci_spec *spec;
  struct container_config cfg;
  struct guest_proc *container;
  struct guest_proc *execs;
  char pidns[64]; /* the container's pid namespace, when it has its own */
  bool own_pidns;
  int drain_timer, bye_timer;
  bool done;
  int result;
};
extern struct agent agent;

/* agent.c: messages to the host. */
void send_msg (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
void send_error (const char *type, int exec_id, int status, const char *message);

/* container.c */
struct guest_proc *new_proc (int id, bool terminal);
struct guest_proc *find_exec (int id);
/* Connects the stdio streams of P at port BASE and fills IO with the
 * child's ends (closed by close_child_stdio once the child has them). */
int setup_stdio (struct guest_proc *p, unsigned base, bool want_stdin, struct child_stdio *io, runvm_error_t *err);
void close_child_stdio (struct child_stdio *io);
void abort_relays (struct guest_proc *p);
/* Frees a finished exec's relays and terminal (from the loop, later). */
void maybe_release (struct guest_proc *p);
void watch_sync (struct guest_proc *p);
bool read_stat (pid_t pid, pid_t *ppid, pid_t *session, unsigned long long *cpu_ticks);
/* Calls FN for every process of the container; returns how many. */
size_t for_each_container_pid (void (*fn) (pid_t pid, void *data), void *data);
void kill_container (int sig);
void on_signalfd (struct loop_watch *w, uint32_t events);

#endif
