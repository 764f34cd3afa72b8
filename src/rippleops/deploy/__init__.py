"""Deploy targets: the local supervisor (:mod:`~rippleops.deploy.local`,
:mod:`~rippleops.deploy.supervisor`), templates for Docker, Kubernetes and Ray Serve
(:mod:`~rippleops.deploy.render`), and the Ray Serve entry point (:mod:`~rippleops.deploy.ray_app`)."""
