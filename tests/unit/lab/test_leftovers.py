"""Which lab a leftover belongs to, by the names the lab tool makes from the lab's name: the
lab tests' leak check leaves out the labs of runs beside them (the molecule scenarios)."""

import pytest

from mpcpu_lab import lab, net


@pytest.mark.parametrize(
    "kind, item",
    [
        ("labs", "fw"),
        ("netns", net.netns_name("fw", "gw")),
        ("links", net.bridge_name("fw", 1)),
        ("links", net.veth_name("fw", 2, 0)),
        ("mounts", "/var/tmp/mpcpu-lab/fw/gw/root"),
        ("cgroups", "/sys/fs/cgroup/unified/%s" % lab.machine_name("fw", "gw")),
    ],
)
def test_a_labs_own_names_belong_to_it_and_not_to_a_lab_whose_name_starts_the_same(kind, item):
    assert lab.belongs_to(kind, item, "fw")
    assert not lab.belongs_to(kind, item, "f")
    assert not lab.belongs_to(kind, item.replace("fw", "fwpy"), "fw")


def test_a_process_belongs_to_the_lab_its_machine_names(monkeypatch):
    cmdlines = {
        "11": b"systemd-nspawn\0--machine=%s\0" % lab.machine_name("fw", "gw").encode(),
        "12": b"systemd-nspawn\0--machine=%s\0" % lab.machine_name("fwpy", "gw").encode(),
    }
    monkeypatch.setattr(lab, "_cmdline", cmdlines.get)
    assert lab.belongs_to("processes", "11", "fw")
    assert not lab.belongs_to("processes", "12", "fw")


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown kind"):
        lab.belongs_to("sockets", "x", "fw")
