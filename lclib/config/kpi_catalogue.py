"""The one list of KPI names a journey stage may name in lclib.yaml (checked when the
configuration loads).
"""

from __future__ import annotations

#: KPI name -> (label for readers, kind, detail). Kinds: "events" (count of an event
#: type), "people", "stage_rate", "referral_rate", "nps".
KPIS: dict[str, tuple[str, str, str | None]] = {
    "impressions": ("Impressions", "events", "impression"),
    "visits": ("Site visits", "events", "visit"),
    "signups": ("Sign-ups", "events", "signup"),
    "add_to_carts": ("Add-to-carts", "events", "add_to_cart"),
    "people": ("People in the stage", "people", None),
    "reach": ("People reached", "people", None),
    "leads": ("Leads", "people", None),
    "customers": ("Customers", "people", None),
    "retained_customers": ("Retained customers", "people", None),
    "advocates": ("Advocates", "people", None),
    "lead_rate": ("Lead rate", "stage_rate", None),
    "conversion_rate": ("Conversion rate", "stage_rate", None),
    "retention_rate": ("Retention rate", "stage_rate", None),
    "repeat_rate": ("Repeat-purchase rate", "stage_rate", None),
    "advocacy_rate": ("Advocacy rate", "stage_rate", None),
    "stage_conversion": ("Conversion from the previous stage", "stage_rate", None),
    "referral_rate": ("Referral rate", "referral_rate", None),
    "nps": ("Net Promoter Score", "nps", None),
}
