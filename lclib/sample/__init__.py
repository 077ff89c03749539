"""Synthetic customer-lifecycle data with a known ground truth.

:func:`simulate` builds a small online shop's world (about 5,000 people over two
years) from a fully specified generative model, so that every analysis in
``lclib`` can be checked against the parameters that produced the data.
:func:`write_sample` writes it as canonical CSVs (names from
:mod:`lclib.io.columns`) plus ``ground_truth.json``. :func:`make_messy_shop_export`
writes a small UCI "Online Retail"-like invoice export with a known number of
planted defects, for testing the loader's cleaning rules.

Everything is vectorized numpy; the only Python loops run over the handful of
channels, referral generations and months. The same seed gives byte-identical
files.

The simulated world
-------------------
Time runs in float days from ``start`` 00:00; the observation window ends at
``end`` + 1 day 00:00 (exclusive), written ``observation_end`` in the truth.
Channels are :data:`lclib.io.columns.SAMPLE_CHANNELS`. Every stage probability below
is keyed by the person's *reach channel*, which is also their acquisition and
first-order channel, so per-channel truths are unambiguous.

1. **Reach.** ``n_people`` people are reached "cold" at a uniform random time
   through a channel drawn with ``channel_shares`` (every channel except
   ``referral``). People reached through ``referral`` are exactly the people
   referred by advocates (step 6), on top of ``n_people``. A person's path is:
   a first touch on the reach channel (``impression`` or ``visit``), a
   Poisson number of middle touches (half on the reach channel, half on other
   channels drawn from ``middle_touch_mix``), and a final ``visit`` on the
   reach channel. The path lasts an exponential number of days.
2. **Acquisition.** With probability ``p_acquire[channel]`` the final visit is
   followed (minutes later) by a ``signup`` event and a row in ``customers``.
   ``acquisition_channel`` is the channel of the *last touch before signup*;
   the simulator always makes that touch the final visit on the reach
   channel, so first touch, last touch and acquisition channel agree while the
   middle of the path is multi-channel. Near the end of the window the path
   is compressed so that acquisition is never censored: realized acquisition
   rates are plain Binomial(people, ``p_acquire``).
3. **Conversion.** An acquired customer converts with probability
   ``p_convert[channel]``; the first purchase comes ``Gamma(shape, scale)``
   days after signup (clipped at ``max_days``). A first purchase after the
   window is censored (the customer stays unconverted in the data), so the
   uncensored rate is measured on customers who signed up at least
   ``max_days`` before the end. Converters get an ``add_to_cart`` event just
   before their first order; some acquired non-converters abandon a cart.
4. **Repeat purchases** follow the BG/NBD model (Fader, Hardie & Lee 2005) from
   its definition, time unit weeks, origin the first purchase: per customer
   ``lambda ~ Gamma(shape r, rate alpha)`` and ``p ~ Beta(a, b)``; while alive,
   purchases arrive as a Poisson process with rate ``lambda``; after *each
   repeat* purchase the customer drops out with probability ``p`` (never right
   after the first purchase). See :func:`simulate_bgnbd`.
5. **Order values** follow the Gamma-Gamma model: per customer
   ``nu ~ Gamma(shape q, rate v)``, each order (first, repeat and
   experiment-induced alike) ``z ~ Gamma(shape p, rate nu)``, rounded to cents.
   An order is written as 1-3 lines whose amounts (``quantity * unit_price``,
   exact in cents) sum exactly to the rounded order value. The first order
   comes through the acquisition channel, repeat orders through
   ``repeat_channel_mix``.
6. **Retention and advocacy.** Retained = made a second purchase by the end.
   The truth gives per channel the model-implied retention (mean over the
   channel's converted customers of ``1 - P(X(T_i) = 0)`` with the BG/NBD
   closed form ``P(X(t) = 0) = (alpha / (alpha + t))**r``, ``T_i`` = weeks from
   the written first-purchase timestamp to ``observation_end``) and the
   realized rate. A retained customer becomes an advocate with probability
   ``p_advocate[channel]`` and refers ``1 + Poisson(referrals_extra_mean)``
   new people, each at a uniform time between their second purchase and
   ``referral_max_delay_days`` later (or the end). Referred people enter
   step 1 with reach channel ``referral``; the process runs in generations
   until nobody new is referred. The referrals table links the referrer's
   ``customer_id`` to the referred person's *person id* (their
   ``anonymous_id`` in events; join through the ``signup`` event to find their
   ``customer_id``).
7. **NPS.** Each converted customer answers one survey with probability
   ``nps_response_rate``: retained customers 1-45 days after their second
   purchase, others 7-60 days after their first (answers after the end are
   dropped). Scores 0-10 are drawn from ``nps_pmf_retained`` or
   ``nps_pmf_not_retained`` by retention status at the end.
8. **Marketing spend.** One row per month and paid channel:
   ``cac[channel] * (customers whose first purchase fell in that month and came
   through that channel)``, so spend / converted customers is exactly the CAC.
   ``organic_social`` and ``direct`` have no spend rows; ``referral`` spend is
   a referral bonus paid per converted referred customer.
9. **Experiment** ``winback_<year>``: at ``assigned_at`` (09:00 on the first
   day of the month containing the point 75% through the window) every
   customer whose second purchase happened before then is assigned, exactly
   half (rounded down) at random to ``treatment``, the rest to ``control``.
   Outcome: at least one purchase in ``[assigned_at, assigned_at +
   window_days)``. ``Y0`` is the organic BG/NBD outcome. ``Y1 = Y0``, except that
   a customer still alive at assignment without an organic purchase in the
   window buys once more (email channel, uniform time in the window) with
   probability ``uplift_u``; the draw is made for every assigned customer,
   so the sample's true ATE ``mean(Y1 - Y0)`` is known exactly. Only treated
   customers' extra orders are written. Because the population was already
   retained, the experiment changes no one's retention or advocacy; its extra
   orders do sit on top of the BG/NBD process (they do not trigger dropout).

Ids are zero-padded text: people ``P000001`` (ordered by reach time), customers
``C000001`` (by signup time), orders ``O0000001`` (by order time). Events carry
``anonymous_id`` (the person id) always and ``customer_id`` from the signup on.
Timestamps have random times of day and are floored to the second.

``ground_truth.json`` (see :func:`simulate` for the key list) stores all of the
above parameters and the realized counts.
"""

from lclib.sample.bgnbd import (bgnbd_expected_repeats, bgnbd_prob_no_repeat, simulate_bgnbd,  # noqa: F401
                                simulate_gamma_gamma)
from lclib.sample.shop_export import make_messy_shop_export  # noqa: F401
from lclib.sample.world import DEFAULT_SEED, EVENT_TYPES, TABLE_COLUMNS, SampleData, WorldParams, simulate  # noqa: F401
from lclib.sample.write import write_sample  # noqa: F401

__all__ = [
    "WorldParams",
    "SampleData",
    "simulate",
    "write_sample",
    "simulate_bgnbd",
    "simulate_gamma_gamma",
    "bgnbd_prob_no_repeat",
    "bgnbd_expected_repeats",
    "make_messy_shop_export",
    "TABLE_COLUMNS",
    "DEFAULT_SEED",
    "EVENT_TYPES",
]
