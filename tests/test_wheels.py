from __future__ import annotations

from pipenv_sync_ext.store.artifact import Artifact, best_wheel, project_of, wheel_rank

TAGS = [
    "cp311-cp311-manylinux_2_17_x86_64",
    "cp311-abi3-manylinux_2_17_x86_64",
    "py3-none-manylinux_2_17_x86_64",
    "cp311-none-any",
    "py3-none-any",
]
RANK = {t: i for i, t in enumerate(TAGS)}


def test_most_specific_compatible_wheel_wins() -> None:
    arts = [
        Artifact("1", "x-1.0-py3-none-any.whl"),
        Artifact("2", "x-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"),
        Artifact("3", "x-1.0-cp311-cp311-win_amd64.whl"),
        Artifact("4", "x-1.0.tar.gz"),
    ]
    assert best_wheel(arts, RANK) == arts[1]
    assert best_wheel([arts[0], arts[3]], RANK) == arts[0]
    assert best_wheel([arts[2], arts[3]], RANK) is None


def test_rank_and_names() -> None:
    assert wheel_rank("x-1.0-py3-none-any.whl", RANK) == 4
    assert wheel_rank("x-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", RANK) is None
    assert wheel_rank("not-a-wheel.whl", RANK) is None
    assert project_of("Foo_Bar-1.0-py3-none-any.whl") == ("foo-bar", "1.0")
    assert project_of("foo-bar-1.0.tar.gz") == ("foo-bar", "1.0")
    assert project_of("garbage.zip") is None
