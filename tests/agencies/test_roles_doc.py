"""docs/roles.md's table is agencies.roles' table: regenerate it from the failure's text when a role changes."""

from pathlib import Path

from agencies.models import AGENCY_ROLES, ORGANIZATION_ROLES
from agencies.roles import AGENCY_CAPABILITIES, ORGANIZATION_CAPABILITIES

DOC = Path(__file__).resolve().parents[2] / "docs" / "roles.md"


def roles_table() -> str:
    columns = [f"Agency {r.label.lower()}" for r in AGENCY_ROLES] + [
        f"Client {r.label.lower()}" for r in ORGANIZATION_ROLES
    ]
    lines = ["| Who may | " + " | ".join(columns) + " |", "| --- |" + " --- |" * len(columns)]
    for side, table in (
        ("Agency", AGENCY_CAPABILITIES),
        ("Client", ORGANIZATION_CAPABILITIES),
    ):
        for name, (allowed, what) in table.items():
            marks = []
            for kind, roles_ in (("Agency", AGENCY_ROLES), ("Client", ORGANIZATION_ROLES)):
                marks += ["yes" if kind == side and r in allowed else "—" for r in roles_]
            lines.append(f"| {side}: {what} (`{name}`) | " + " | ".join(marks) + " |")
    return "\n".join(lines)


def test_docs_roles_table_matches_agencies_roles():
    assert roles_table() in DOC.read_text(), "docs/roles.md's table differs; put this in it:\n" + roles_table()
