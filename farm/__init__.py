"""The site farm: a local HTTP server standing in for Korean government websites.

    farm = Farm(seed=1, scale="demo", port=0).start()   # or: with Farm(...) as farm:
    farm.port, farm.sites, farm.manifest()               # ground truth of what a crawler must find
    farm.publish("gyeongnam-press", title=..., body=...) # a new post on page 1, while running
    farm.set_faults("seoul", failure_rate=0.3)           # runtime fault switches (farm/faults.py)
    farm.request_log(); farm.stop()

Every site listens on its own loopback address (127.0.1.x, same port) so per-host politeness is real;
`Farm(address_base="198.18.0.100")` puts site i on that address + i instead (the multi-host test).
Sites, families and options: catalog.py; content: content.py; page markup: directory.py, board_pages.py;
site definitions (YAML): definitions.py. `python -m farm --help` runs it in the foreground.
"""
from farm.farm import Farm, FarmConfig
from farm.faults import FaultSwitches

__all__ = ["Farm", "FarmConfig", "FaultSwitches"]
