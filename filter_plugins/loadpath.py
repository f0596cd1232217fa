"""Filters of the load path's capacity (rightsize.loadpath): a thin registration."""
try:
    from rightsize import loadpath
except ImportError as error:  # the controller package is installed into .venv by `make venv`
    raise ImportError(f"the rightsize controller package is missing ({error}): run `make venv` and use "
                      ".venv/bin/ansible-playbook") from error


def load_path(groups, hostvars, layouts, userland_proxy, nofile, workers_per_host):
    return loadpath.from_hostvars(groups, hostvars, layouts=list(layouts), userland_proxy=userland_proxy,
                                  nofile=int(nofile), workers_per_host=int(workers_per_host))


def layout(replicas, proxy):
    """{"replicas", "balancer"} of a variant: nginx in front when replicas > 1 or api_proxy=always."""
    return {"replicas": int(replicas), "balancer": int(replicas) > 1 or str(proxy) == "always"}


class FilterModule:
    def filters(self):
        return {
            "rs_load_path": load_path,
            "rs_layout": layout,
            "rs_load_path_errors": lambda layouts, users: loadpath.layout_errors(int(users), list(layouts)),
            "rs_load_path_line": lambda layouts, users: loadpath.summary_line(int(users), list(layouts)),
            "rs_nginx_worker_connections": loadpath.nginx_worker_connections,
            "rs_container_nofile": loadpath.container_nofile,
        }
