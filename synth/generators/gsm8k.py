"""GSM8K-style multi-step word problems with integer answers (see :mod:`synth.generators`).

The number of steps grows with the level; level 1 is compact (one step, small numbers) so a
char-level model can learn it in the CPU demo.
"""

from __future__ import annotations

import random

NAMES = ["Tom", "Ana", "Lee", "Mia", "Sam", "Ivy", "Ben", "Zoe", "Raj", "Kim", "Leo", "Eva"]
ITEMS = ["apples", "pens", "cards", "books", "eggs", "shells", "stamps", "cookies", "marbles", "toys"]


def add(rng: random.Random, level: int):
    """Start with a count, then ``level`` gains or losses; how many now."""
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    hi = 9 if level == 1 else 10 * level
    count = rng.randint(1, hi)
    start = count
    steps, ops = [], []
    for i in range(level):
        if count > 1 and rng.random() < 0.4:
            k = rng.randint(1, count - 1)
            count -= k
            steps.append(f"gives away {k}" if i == 0 else f"then gives away {k}")
            ops.append(-k)
        else:
            k = rng.randint(1, hi)
            count += k
            steps.append(f"gets {k} more" if i == 0 else f"then gets {k} more")
            ops.append(k)
    if level == 1:
        q = f"{name} has {start} {item} and {steps[0]}. How many {item} now?"
    else:
        q = f"{name} has {start} {item}. {name} " + ", ".join(steps) + f". How many {item} does {name} have now?"
    sol = f"{start}" + "".join(f" {'+' if k > 0 else '-'} {abs(k)}" for k in ops) + f" = {count}."
    return q, sol, str(count), {"start": start, "ops": ops}


def money(rng: random.Random, level: int):
    """Buy several kinds of items at unit prices, pay with a bill; how much change."""
    name = rng.choice(NAMES)
    kinds = rng.sample(ITEMS, min(len(ITEMS), 1 + (level + 1) // 2))
    buys = [(k, rng.randint(1, 2 + level), rng.randint(1, 2 + 3 * level)) for k in kinds]
    cost = sum(q * p for _, q, p in buys)
    bill = next(b for b in (5, 10, 20, 50, 100, 200, 500, 1000) if b >= cost)
    if level >= 3 and bill == cost:
        bill *= 2
    parts = " and ".join(f"{q} {k} at ${p} each" for k, q, p in buys)
    q = f"{name} buys {parts}. {name} pays with a ${bill} bill. How much change, in dollars, does {name} get?"
    lines = " + ".join(f"{q} x {p}" for _, q, p in buys)
    sol = f"The cost is {lines} = {cost} dollars. The change is {bill} - {cost} = {bill - cost}."
    return q, sol, str(bill - cost), {"buys": [[q, p] for _, q, p in buys], "bill": bill}


def rate(rng: random.Random, level: int):
    """Distance = speed x time, over one leg (levels 1-2) or several legs."""
    name = rng.choice(NAMES)
    legs = [(rng.randint(2, 6 + 10 * level), rng.randint(1, 2 + level)) for _ in range(1 if level <= 2 else level - 1)]
    total = sum(s * h for s, h in legs)
    desc = ", then ".join(f"{s} miles per hour for {h} hours" for s, h in legs)
    q = f"{name} drives at {desc}. How many miles does {name} drive in total?"
    sol = " + ".join(f"{s} x {h}" for s, h in legs) + f" = {total} miles."
    return q, sol, str(total), {"legs": [list(x) for x in legs]}


def time_(rng: random.Random, level: int):
    """Minutes per task times tasks, possibly over days, asked in minutes or (whole) hours."""
    name = rng.choice(NAMES)
    per = rng.randint(2, 5 + 5 * level)
    tasks = rng.randint(2, 4 + 3 * level)
    days = rng.randint(2, 7) if level >= 3 else 1
    minutes = per * tasks * days
    task = rng.choice(["page", "puzzle", "drawing", "email", "lap"])
    when = f" every day for {days} days" if days > 1 else ""
    if level >= 4:
        tasks_h = 60 // __import__("math").gcd(per * days, 60)  # make the minutes a whole number of hours
        tasks = tasks_h * rng.randint(1, 3)
        minutes = per * tasks * days
        q = f"{name} spends {per} minutes on each {task} and does {tasks} of them{when}. How many hours is that?"
        sol = f"{per} x {tasks} x {days} = {minutes} minutes = {minutes // 60} hours."
        return q, sol, str(minutes // 60), {"per": per, "tasks": tasks, "days": days, "unit": "hours"}
    q = f"{name} spends {per} minutes on each {task} and does {tasks} of them{when}. How many minutes is that?"
    sol = f"{per} x {tasks}" + (f" x {days}" if days > 1 else "") + f" = {minutes} minutes."
    return q, sol, str(minutes), {"per": per, "tasks": tasks, "days": days, "unit": "minutes"}
