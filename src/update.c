/* runvm update ID [flags]: a running VM's vCPUs and RAM are fixed at boot
 * (no hotplug yet), so resource changes are refused with a clear error
 * rather than silently ignored. */
#include <config.h>
#include <string.h>

#include "commands.h"
#include "container.h"

int
cmd_update (struct runvm_global *g, int argc, char **argv, runvm_error_t *err)
{
  struct container_state st;
  int i = 1;
  const char *flag = NULL;

  for (; i < argc && argv[i][0] == '-'; i++)
    {
      if (flag == NULL)
        flag = argv[i];
      if (strchr (argv[i], '=') == NULL && i + 1 < argc - 1)
        i++;
    }
  if (require_id (argc, argv, i, err) < 0)
    return -1;
  if (container_load (g, argv[i], &st, err) < 0)
    return -1;
  container_state_release (&st);
  if (flag)
    return runvm_make_error (err, 0,
                             "runvm cannot change %s of a running container: the VM's vCPUs and memory are fixed "
                             "when it boots",
                             flag);
  return 0;
}
