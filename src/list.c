/* runvm list [--format table|json] [--quiet] */
#include <config.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "container.h"
#include "utils.h"

static const struct cli_flag list_flags[] = {
  { "format, f", CLI_STRING, "table or json (default: table)" },
  { "quiet, q", CLI_BOOL, "print only the container ids" },
  { NULL },
};

const struct cli_command cli_list = {
  .name = "list",
  .usage = "list the containers under --root",
  .flags = list_flags,
  .min_args = 0,
  .max_args = 0,
};

int
cmd_list (struct runvm_global *g, struct cli_args *a, runvm_error_t *err)
{
  const char *format = cli_string (a, "format", "table");
  bool quiet = cli_get (a, "quiet")->on, json = strcmp (format, "json") == 0, first = true;
  DIR *d;
  struct dirent *de;

  /* runc: --quiet wins over --format, which is checked only without it */
  if (!quiet && !json && strcmp (format, "table") != 0)
    return runvm_make_error (err, 0, "invalid format option");
  d = opendir (g->root);
  if (!quiet && !json)
    printf ("%-12s %-10s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
  while (d && (de = readdir (d)))
    {
      struct container_state st;
      runvm_error_t ignored = NULL;
      const char *status;

      if (de->d_name[0] == '.')
        continue;
      if (container_load (g, de->d_name, &st, &ignored) < 0)
        {
          runvm_error_release (&ignored);
          continue;
        }
      status = container_status (&st);
      if (quiet)
        printf ("%s\n", st.id);
      else if (json)
        {
          char *s = container_state_json (&st, false);
          printf ("%s%s", first ? "[" : ",", s);
          free (s);
        }
      else
        printf ("%-12s %-10d %-10s %-40s %-30s %s\n", st.id, strcmp (status, "stopped") ? (int) st.pid : 0, status,
                st.bundle ? st.bundle : "", st.created ? st.created : "", st.owner && *st.owner ? st.owner : "root");
      first = false;
      container_state_release (&st);
    }
  /* runc encodes an empty list as JSON null */
  if (json && !quiet)
    printf ("%s\n", first ? "null" : "]");
  if (d)
    closedir (d);
  return 0;
}
