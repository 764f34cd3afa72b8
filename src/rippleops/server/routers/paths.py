"""Where the REST API lives. Each router carries its full prefix, so a route's ``path`` is
the whole template (the metrics label it so)."""

API = "/api/v1"
PROJECT = API + "/projects/{project}"
