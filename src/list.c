/* runvm list [--format table|json] [--quiet] */
#include <config.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "container.h"
#include "utils.h"

int
cmd_list (struct runvm_global *g, int argc, char **argv, runvm_error_t *err)
{
  bool quiet = false, json = false, first = true;
  DIR *d;
  struct dirent *de;
  int i;

  for (i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "-q") == 0 || strcmp (argv[i], "--quiet") == 0)
        quiet = true;
      else if ((strcmp (argv[i], "-f") == 0 || strcmp (argv[i], "--format") == 0) && i + 1 < argc)
        json = strcmp (argv[++i], "json") == 0;
      else if (strncmp (argv[i], "--format=", 9) == 0)
        json = strcmp (argv[i] + 9, "json") == 0;
      else
        return runvm_make_error (err, 0, "flag provided but not defined: %s", argv[i]);
    }
  d = opendir (g->root);
  if (json)
    printf ("[");
  else if (!quiet)
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
          printf ("%s%s", first ? "" : ",", s);
          free (s);
        }
      else
        printf ("%-12s %-10d %-10s %-40s %-30s %s\n", st.id, strcmp (status, "stopped") ? (int) st.pid : 0, status,
                st.bundle ? st.bundle : "", st.created ? st.created : "", st.owner && *st.owner ? st.owner : "root");
      first = false;
      container_state_release (&st);
    }
  if (json)
    printf ("]\n");
  if (d)
    closedir (d);
  return 0;
}
