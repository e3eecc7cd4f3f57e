"""The dashboard: a read-only web app over lrtune's storage (``lrtune dashboard``)."""

from lrtune.dashboard._app import create_app
from lrtune.dashboard._data import DashboardData
from lrtune.dashboard._drawing import start_drawing_pool
from lrtune.dashboard._security import is_loopback
from lrtune.dashboard._serve import check_port_free, serve

__all__ = [
    "DashboardData",
    "check_port_free",
    "create_app",
    "is_loopback",
    "serve",
    "start_drawing_pool",
]
