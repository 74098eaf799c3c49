/* runvm delete [--force] ID: removes a stopped container (--force kills a
 * running one first). */
#include <config.h>
#include <string.h>

#include "commands.h"

int
cmd_delete (struct runvm_global *g, int argc, char **argv, runvm_error_t *err)
{
  bool force = false;
  int i = 1;

  for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++)
    {
      if (strcmp (argv[i], "--force") == 0 || strcmp (argv[i], "-f") == 0)
        force = true;
      else
        return runvm_make_error (err, 0, "flag provided but not defined: %s", argv[i]);
    }
  if (require_id (argc, argv, i, err) < 0)
    return -1;
  return lifecycle_delete (g, argv[i], force, err);
}
