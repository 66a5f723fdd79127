"""The same HTTP API scaled out on Ray Serve (``voxlite[ray]``): each replica is a Ray actor running the Starlette
application of ``voxlite.serve.app`` (its own engine and models), placed with ``num_cpus`` = its workers x ONNX
Runtime threads, so Ray packs replicas onto machines without oversubscribing cores.

    from voxlite.serve.ray_app import build
    from ray import serve
    serve.run(build(load_config("serve.toml"), replicas=2), route_prefix="/")      # or autoscaling=dict(...)

On a cluster: start Ray on each machine (``ray start --head`` on one, ``ray start --address=HEAD:6379`` on the
others), make the bundles reachable at the same path on every machine (or bake them into the image), then run the
above against the cluster (``ray.init(address="auto")``). Ray's HTTP proxy listens on every node (port 8000 by
default); put a load balancer in front of the proxies.
"""
from __future__ import annotations

import dataclasses

from .config import ServeConfig


def build(config: ServeConfig, *, replicas: int | None = 2, autoscaling: dict | None = None,
          workers_per_replica: int = 1):
    """A Ray Serve application: ``replicas`` fixed replicas, or ``autoscaling`` (Ray's ``autoscaling_config``:
    ``min_replicas``, ``max_replicas``, ``target_ongoing_requests``...). Each replica runs ``workers_per_replica``
    generations at once; its queue is the config's."""
    from ray import serve

    replica_config = dataclasses.replace(config, workers=workers_per_replica, host="127.0.0.1")
    cpus = workers_per_replica * config.threads_per_worker

    def asgi_app():  # built on each replica, inside its actor
        from .app import create_app

        return create_app(replica_config)

    options = dict(ray_actor_options={"num_cpus": cpus},
                   max_ongoing_requests=workers_per_replica + config.queue)
    if autoscaling is not None:
        options["autoscaling_config"] = autoscaling
    else:
        options["num_replicas"] = replicas

    @serve.deployment(name="voxlite-speech", **options)
    @serve.ingress(asgi_app)
    class VoxliteSpeech:
        pass

    return VoxliteSpeech.bind()
