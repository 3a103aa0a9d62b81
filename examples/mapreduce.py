"""A map-reduce over generated sales records: the main example flow.

Generates a day's orders per region, maps a cleaning step over every order,
sums revenue per region (map over map), and reduces to one report.

    orchestrator run examples/mapreduce.py
    orchestrator run examples/mapreduce.py --local-cluster --param regions=8
"""

from __future__ import annotations

import random

from orchestrator import Flow, Parameter, context, task, unmapped


@task
def list_regions(count: int) -> list[str]:
    """Names of the regions to process."""
    return [f"region-{i:02d}" for i in range(count)]


@task
def fetch_orders(region: str, orders_per_region: int) -> list[dict[str, float]]:
    """Generate one region's orders (stands in for a database query)."""
    rng = random.Random(region)
    return [
        {"amount": round(rng.uniform(5, 500), 2), "discount": rng.choice([0, 0.1, 0.2])}
        for _ in range(orders_per_region)
    ]


@task
def region_revenue(orders: list[dict[str, float]]) -> float:
    """Net revenue of one region's orders."""
    return round(sum(o["amount"] * (1 - o["discount"]) for o in orders), 2)


@task(name="report")
def report(revenues: list[float]) -> dict[str, float]:
    """One summary for the whole day, logged for people."""
    total = round(sum(revenues), 2)
    context.logger.info("Total revenue over %d regions: %.2f", len(revenues), total)
    return {"regions": len(revenues), "total": total, "best": max(revenues, default=0.0)}


with Flow("daily-revenue") as flow:
    regions = Parameter("regions", default=4)
    orders_per_region = Parameter("orders_per_region", default=100)
    names = list_regions(regions)
    orders = fetch_orders.map(region=names, orders_per_region=unmapped(orders_per_region))
    revenues = region_revenue.map(orders)
    summary = report(revenues)


if __name__ == "__main__":
    state = flow.run()
    print(state, state.result()[summary].result())
