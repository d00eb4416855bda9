"""File server (issue 6, item 6): the project's file server (`python -m host_server.fileserver`)
against nginx, whole-file streaming of the same file to the same clients: curl, and the device
client under micropython."""
import os

from bench import media
from bench.nginx import Nginx
from bench.report import Section, fmt
from bench.servers import Server
from bench.stats import median, paired_ratio
from bench.streaming import curl_runs, stream_runs


def run(work, quick=False):
    size = (1 << 20) if quick else (64 << 20)
    rounds, reps = (1, 2) if quick else (5, 2)
    files = os.path.join(work, "fileserver-files")
    f = media.random_file(files, "whole.bin", size)
    speeds = {}
    by_round = {}   # (server, client) -> [[MB/s of each run] per round]
    ttfb = {"ours": [], "nginx": []}
    with Server(["-m", "host_server.fileserver", "--root", files, "--host", "127.0.0.1",
                 "--port", "0"], os.path.join(work, "fileserver.log")) as ours, \
            Nginx(files, os.path.join(work, "nginx-files")) as ng:
        servers = (("ours", ours.url + "/" + f.name), ("nginx", ng.url + "/" + f.name))
        for _, url in servers:
            curl_runs(url, f, 1)   # warm: page cache, connections, the server's first request
        for _ in range(rounds):
            for name, url in servers:
                for client, runs in (("curl", curl_runs(url, f, reps, ttfb[name])),
                                     ("device", stream_runs("client", url, f, reps))):
                    speeds.setdefault((name, client), []).extend(runs)
                    by_round.setdefault((name, client), []).append(runs)
    med = {k: median(v) for k, v in speeds.items()}
    sec = Section("6. File server: whole-file streaming, the project's against nginx")
    rows = []
    for client, label in (("curl", "curl to /dev/null"),
                          ("device", "device client under micropython (sha256 checked)")):
        rows.append((label, fmt(med[("ours", client)]), fmt(med[("nginx", client)]),
                     "%.2f" % paired_ratio(by_round[("ours", client)], by_round[("nginx", client)]),
                     len(speeds[("ours", client)])))
    sec.table(("client", "ours MB/s median", "nginx MB/s median", "ours/nginx", "runs each"), rows)
    r = paired_ratio(by_round[("ours", "curl")], by_round[("nginx", "curl")])
    sec.figures.update({"curl_ratio": r, "device_ratio": paired_ratio(
        by_round[("ours", "device")], by_round[("nginx", "device")])})
    sec.target("the project's file server ≥ 0.8 × nginx (whole file, curl)", r >= 0.8,
               "ours/nginx = %.2f with curl, %.2f with the device client" % (r, sec.figures["device_ratio"]))
    sec.note("A %s-byte file, page cache warm, one GET per run (no Range), %d rounds interleaved (a ratio is the median over rounds "
             "of the two servers' medians in the same round); "
             "our file server is aiohttp's `FileResponse` (sendfile) in one process, nginx one "
             "worker with sendfile on. With the device client the device's sha256 is the "
             "bottleneck, so both servers look alike there. Median time to the first byte (curl, "
             "connect included): ours %.2f ms, nginx %.2f ms." % (
                 format(size, ","), rounds, 1000 * median(ttfb["ours"]), 1000 * median(ttfb["nginx"])))
    return [sec]
