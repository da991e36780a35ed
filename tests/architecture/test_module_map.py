"""docs/architecture.md lists every gateway module, by area, as the tree has it (regenerate with
`python -m tests.architecture.module_map`)."""

from tests.architecture.module_map import current, render


def test_the_module_map_in_docs_is_the_tree():
    assert current() == render()
