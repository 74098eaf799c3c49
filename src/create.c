/* runvm create [--bundle DIR] [--console-socket PATH] [--pid-file FILE] ID */
#include <config.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "lifecycle.h"
#include "commands.h"

int
parse_create_flags (int argc, char **argv, struct create_options *o, bool *detach, bool *keep, runvm_error_t *err)
{
  static const struct option opts[] = {
    { "bundle", required_argument, NULL, 'b' },     { "console-socket", required_argument, NULL, 'c' },
    { "pid-file", required_argument, NULL, 'p' },   { "no-pivot", no_argument, NULL, 'P' },
    { "no-new-keyring", no_argument, NULL, 'K' },   { "preserve-fds", required_argument, NULL, 'f' },
    { "detach", no_argument, NULL, 'd' },           { "keep", no_argument, NULL, 'k' },
    { "no-subreaper", no_argument, NULL, 'S' },     { "notify-socket", required_argument, NULL, 'n' },
    { NULL, 0, NULL, 0 },
  };
  int c;

  optind = 1;
  opterr = 0;
  while ((c = getopt_long (argc, argv, "+b:d", opts, NULL)) != -1)
    switch (c)
      {
      case 'b':
        o->bundle = optarg;
        break;
      case 'c':
        o->console_socket = optarg;
        break;
      case 'p':
        o->pid_file = optarg;
        break;
      case 'f':
        o->preserve_fds = atoi (optarg);
        break;
      case 'd':
        if (detach == NULL)
          return runvm_make_error (err, 0, "flag provided but not defined: -detach");
        *detach = true;
        break;
      case 'k':
        if (keep == NULL)
          return runvm_make_error (err, 0, "flag provided but not defined: -keep");
        *keep = true;
        break;
      case 'P':
      case 'K':
      case 'S':
      case 'n':
        break; /* accepted for runc compatibility; meaningless for a VM */
      default:
        return runvm_make_error (err, 0, "flag provided but not defined: %s", argv[optind - 1]);
      }
  if (require_id (argc, argv, optind, err) < 0)
    return -1;
  o->id = argv[optind];
  return 0;
}

int
cmd_create (struct runvm_global *g, int argc, char **argv, runvm_error_t *err)
{
  struct create_options o = { 0 };
  pid_t pid;

  o.detach = true;
  if (parse_create_flags (argc, argv, &o, NULL, NULL, err) < 0)
    return -1;
  /* runc words a failure past the arguments "runc create failed: ..." */
  if (lifecycle_create (g, &o, &pid, err) < 0)
    return runvm_error_wrap (err, "runvm create failed");
  return 0;
}
