"""`web.wsgi:application`, the app of the cluster in NUGO_CONF, for any WSGI server (`nugo serve` is the default)."""
from conf.loader import load_cluster
from web.app import make_app

application = make_app(load_cluster())
