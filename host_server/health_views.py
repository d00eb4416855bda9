"""The device API's next and report, made health-aware.

They wrap views.next_item and views.report: the compact document leaves with its sources
ordered by health (health.py), and a report's failures and successes are folded into health.
Both do nothing more while health is off (settings.probe_interval == 0) .
"""

from . import views
from .health import HEALTH
from .keys import DEVICE, SETTINGS


async def next_item(request):
    resp = await views.next_item(request)
    if resp.status == 200 and request.app[SETTINGS].probe_interval > 0:
        resp.body = request.app[HEALTH].order(resp.body)
    return resp


async def report(request):
    resp = await views.report(request)
    if resp.status == 200 and request.app[SETTINGS].probe_interval > 0:
        rep = views.parse_report(await views.read_json(request))   # read() is cached
        await request.app[HEALTH].fold_report(request[DEVICE], rep)
    return resp
