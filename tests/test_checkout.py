"""Jobs import the xdetox beside the Snakefile: its src/ goes first on PYTHONPATH, once, other entries kept."""

import os

from xdetox.checkout import prefer_checkout


def test_the_checkout_goes_first_once_and_other_entries_stay():
    env = {"PYTHONPATH": os.pathsep.join(["/other/clone/src", "/repo/src", "", "/lib"])}
    assert prefer_checkout("/repo/src", env) == os.pathsep.join(["/repo/src", "/other/clone/src", "/lib"])
    assert prefer_checkout("/repo/src", env) == env["PYTHONPATH"]  # idempotent: a cluster job re-reads the Snakefile
    empty = {}
    assert prefer_checkout("/repo/src", empty) == "/repo/src" == empty["PYTHONPATH"]
