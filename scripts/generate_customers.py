#!/usr/bin/env python3
"""Writes N synthetic customers for examples/saas-lifecycle.yaml as CSV (deterministic)."""
import random
import sys
from datetime import date, timedelta

n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
rng = random.Random(42)
# Mobile prefixes of mainland China's carriers (all valid for the phone number library).
PREFIXES = ["130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "158", "159", "186", "187", "188", "189"]
zones = ["", "", "", "America/New_York", "Europe/Berlin", "America/Los_Angeles", "Asia/Tokyo"]
start = date(2026, 1, 5)
print("id,phone,timezone,name,plan,trial_started_at,trial_ends_at,paid_at,paid_until")
for i in range(n):
    phone = f"{rng.choice(PREFIXES)}{rng.randrange(0, 10**8):08d}"
    zone = rng.choice(zones)
    trial = start + timedelta(days=rng.randrange(-120, 90))
    plan = rng.choice(["trial", "trial", "paid", "expired"])
    paid = paid_until = ""
    if plan == "paid":
        p = trial + timedelta(days=rng.randrange(3, 14))
        paid, paid_until = p.isoformat(), (p + timedelta(days=365)).isoformat()
    print(f"u{i},{phone},{zone},客户{i},{plan},{trial.isoformat()},{(trial + timedelta(days=14)).isoformat()},{paid},{paid_until}")
