"""The outbound use cases wired to the in-memory fakes of their ports (tests/fakes), through the adapters' own
switches (`use_document_store`, `use_objects`, `use_queues`, `use_agency_registry`): no AWS, no moto."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from chalicelib.adapters import agency_registry, document_store, objects, queues
from chalicelib.adapters.agency_registry import Agency
from devstack import demo_data
from tests.fakes import FakeAgencies, FakeObjects, FakeQueues, InMemoryDocumentStore

H62 = "000.00.00.H62"  # served
G22 = "000.00.00.G22"  # external
K62 = "000.00.00.K62"  # external, paper in parallel


@dataclass
class Ports:
    store: InMemoryDocumentStore
    objects: FakeObjects
    queues: FakeQueues
    agencies: FakeAgencies


@pytest.fixture
def ports() -> Iterator[Ports]:
    wired = Ports(InMemoryDocumentStore(), FakeObjects(), FakeQueues(), FakeAgencies().add(
        Agency(H62, "UBND tỉnh Vĩnh Phúc", served=True), Agency(G22, "Văn phòng Chính phủ"),
        Agency(K62, "HĐND tỉnh Vĩnh Phúc", paper=True)))
    document_store.use_document_store(wired.store)
    objects.use_objects(wired.objects)
    queues.use_queues(wired.queues)
    agency_registry.use_agency_registry(wired.agencies)
    try:
        yield wired
    finally:
        document_store.use_document_store(None)
        objects.use_objects(None)
        queues.use_queues(None)
        agency_registry.use_agency_registry(None)


def sample_metadata(recipients: list[str]) -> dict:
    """The first demo document's metadata, addressed to `recipients`."""
    return {**demo_data.SAMPLES[0].metadata, "recipients": list(recipients)}
