"""Demo agencies, users and sample documents for the embedded stack, `make demo` and the tests.

Codes and names from docs/identifiers.md#demo-agencies. The gateway in the demo serves the Vĩnh Phúc agencies
and UBND tỉnh Bắc Giang (as a provincial gateway hosted for two provinces would); Văn phòng Chính phủ,
HĐND tỉnh Vĩnh Phúc and UBND tỉnh Quảng Ninh are EXTERNAL: on the axis with their own systems, registered
as recipients, never polled for by the gateway. An outside client plays them with their axis credentials.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "AGENCIES", "DEMO_PASSWORD", "EXTERNAL", "FIXTURES_DIR", "SAMPLES", "SAMPLES_FILE", "SERVED",
    "UNREGISTERED_SYSTEMS", "USERS", "DemoAgency", "DemoUser", "SampleDocument",
]


@dataclass(frozen=True)
class DemoAgency:
    """An agency of the demo: `served` ones are this gateway's (keys, users, polled on the axis), the others are
    EXTERNAL; `paper` marks one that still receives on paper; `short` names its clerk (`clerk-<short>`)."""

    organ_id: str
    name: str
    served: bool
    paper: bool = False
    short: str = ""
    email: str = ""
    address: str = ""


AGENCIES: tuple[DemoAgency, ...] = (
    DemoAgency("000.00.00.H62", "UBND tỉnh Vĩnh Phúc", True, short="ubnd-vp",
               email="ubnd@vinhphuc.gov.vn", address="Vĩnh Yên, Vĩnh Phúc"),
    DemoAgency("000.00.01.H62", "Văn phòng UBND tỉnh Vĩnh Phúc", True, short="vp-ubnd-vp",
               email="vpubnd@vinhphuc.gov.vn", address="Vĩnh Yên, Vĩnh Phúc"),
    DemoAgency("000.00.12.H62", "Sở Thông tin và Truyền thông Vĩnh Phúc", True, short="stttt-vp",
               email="sotttt@vinhphuc.gov.vn", address="Vĩnh Yên, Vĩnh Phúc"),
    DemoAgency("000.00.13.H62", "Sở Nội vụ Vĩnh Phúc", True, short="snv-vp",
               email="sonoivu@vinhphuc.gov.vn", address="Vĩnh Yên, Vĩnh Phúc"),
    DemoAgency("000.00.00.H03", "UBND tỉnh Bắc Giang", True, short="ubnd-bg",
               email="ubnd@bacgiang.gov.vn", address="TP Bắc Giang, Bắc Giang"),
    DemoAgency("000.00.00.K62", "HĐND tỉnh Vĩnh Phúc", False, paper=True,
               email="hdnd@vinhphuc.gov.vn", address="Vĩnh Yên, Vĩnh Phúc"),
    DemoAgency("000.00.00.G22", "Văn phòng Chính phủ", False,
               email="vpcp@chinhphu.vn", address="Hà Nội"),
    DemoAgency("000.00.00.H49", "UBND tỉnh Quảng Ninh", False,
               email="ubnd@quangninh.gov.vn", address="Hạ Long, Quảng Ninh"),
)

SERVED = tuple(a for a in AGENCIES if a.served)
EXTERNAL = tuple(a for a in AGENCIES if not a.served)

#: Axis systems whose credentials the gateway holds but that are NOT in the agency registry (a unit whose system
#: was set up before an administrator registered it). The gateway polls them and refuses documents sent to them
#: (`updateStatus fail`, recorded for the admin), which demos and tests show by sending one as an external agency.
UNREGISTERED_SYSTEMS: tuple[str, ...] = ("000.00.98.H62",)


@dataclass(frozen=True)
class DemoUser:
    """A Cognito user of the demo: a clerk of one served agency, or the administrator (`admins` group)."""

    username: str
    password: str
    organ_id: str
    admin: bool = False


DEMO_PASSWORD = "Demo-Passw0rd!"  # demo stack only: documented in the README, never used outside moto

USERS: tuple[DemoUser, ...] = tuple(
    DemoUser(f"clerk-{a.short}", DEMO_PASSWORD, a.organ_id) for a in SERVED
) + (DemoUser("admin", DEMO_PASSWORD, "000.00.01.H62", admin=True),)


#: The project's fixture documents (tests/fixtures/documents), kept in the repo, so a clean clone runs the demo and
#: tests alone.
FIXTURES_DIR = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "documents"


@dataclass(frozen=True)
class SampleDocument:
    """A fixture text with the metadata an agency clerk would enter for it (from fixtures/documents/README.md)."""

    file: str
    uploader: str  # organ_id of the agency that sends it
    metadata: dict = field(default_factory=dict)

    def text(self, fixtures_dir: Path = FIXTURES_DIR) -> str:
        return (fixtures_dir / self.file).read_text(encoding="utf-8")


#: The samples' metadata, as data (`demo_samples.json`): five documents described field by field read best as a
#: table, and a data file keeps them from reading as five copies of the same code.
SAMPLES_FILE = Path(__file__).with_name("demo_samples.json")

SAMPLES: tuple[SampleDocument, ...] = tuple(
    SampleDocument(entry["file"], entry["uploader"], entry["metadata"])
    for entry in json.loads(SAMPLES_FILE.read_text(encoding="utf-8"))
)
