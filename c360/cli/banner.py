"""What ``c360 serve`` prints once it is up: the pages' addresses and, with the demo data, a
fresh key per role with where to put the agent's (the console, a screen pop, GraphiQL)."""

from __future__ import annotations

from collections.abc import Mapping

from c360.auth.service import Role


def banner(base: str, demo_keys: Mapping[Role, str]) -> str:
    """Where to go once the API is up; with the demo, its keys and how to use them."""
    lines = [
        "",
        "  c360 is up.",
        f"  Console:  {base}/console",
        f"  KPIs:     {base}/console/kpis",
        f"  GraphiQL: {base}/graphql",
        f"  Health:   {base}/health",
        f"  API docs: {base}/docs",
    ]
    if demo_keys:
        lines += [
            "",
            "  Demo API keys (new at every start; the previous ones are revoked):",
            *(f"    {role.value:<10} {key}" for role, key in demo_keys.items()),
            f"  Console: open {base}/console and sign in with the agent key:",
            f"    {demo_keys[Role.AGENT]}",
            "  A screen pop, as a phone system links it:",
            f"    {base}/console/lookup?phone=%2B34600123456",
            "  In GraphiQL's Headers tab (open below the query), put:",
            f'    {{"Authorization": "Bearer {demo_keys[Role.AGENT]}"}}',
        ]
    return "\n".join([*lines, ""])
