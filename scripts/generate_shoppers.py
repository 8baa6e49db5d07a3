#!/usr/bin/env python3
"""Writes N synthetic shoppers for examples/retail-winback.yaml (deterministic): DIR/customers.csv
and DIR/events.jsonl with each shopper's last order, spread over the 10 days from START, sorted
by time. Usage: generate_shoppers.py N DIR [START=2026-01-05]"""
import json
import os
import random
import sys
from datetime import datetime, timedelta, timezone

n = int(sys.argv[1])
out = sys.argv[2]
start = datetime.fromisoformat(sys.argv[3] if len(sys.argv) > 3 else "2026-01-05").replace(tzinfo=timezone.utc)
rng = random.Random(7)
# Mobile prefixes of mainland China's carriers (all valid for the phone number library).
PREFIXES = ["130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "158", "159", "186", "187", "188", "189"]
os.makedirs(out, exist_ok=True)
orders = []
with open(os.path.join(out, "customers.csv"), "w", encoding="utf-8") as customers:
    customers.write("id,phone,name,level\n")
    for i in range(n):
        phone = f"{rng.choice(PREFIXES)}{rng.randrange(0, 10**8):08d}"
        level = "vip" if rng.random() < 0.2 else "normal"
        customers.write(f"s{i},{phone},顾客{i},{level}\n")
        at = start + timedelta(minutes=rng.randrange(0, 10 * 24 * 60))
        orders.append((at, i))
orders.sort()
with open(os.path.join(out, "events.jsonl"), "w", encoding="utf-8") as events:
    for at, i in orders:
        event = {
            "event_id": f"o-{i}",
            "customer_id": f"s{i}",
            "type": "order.paid",
            "occurred_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "properties": {"order_id": f"FM{100000 + i}", "amount": rng.randrange(30, 200)},
        }
        events.write(json.dumps(event, ensure_ascii=False) + "\n")
