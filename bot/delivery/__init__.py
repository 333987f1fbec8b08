"""Delivery of the service's events to Slack: one card per launch, updated in place, and the story of each
job in the card's thread.

- In step: a claimed batch is delivered launch by launch; a launch's thread gets its events in event
  order, then its card is updated once, and only when its content changed. An event Slack refuses for now
  holds back the later events of its launch, so the thread never skips ahead.
- Exactly once: an event is acknowledged only after Slack accepted its post, and every post carries the
  event's id in Slack message metadata. An event claimed again (its first consumer crashed between the
  post and the acknowledgement) is looked for in the thread (``conversations.replies`` with
  ``include_all_metadata``) before it is posted: a crash neither loses nor repeats a post. A launch's
  card carries its group id the same way. (Charts are file uploads after their post, which carry no
  metadata: a crash between a post and its chart's upload leaves the thread without that chart.)
- Slack's limits: posts to one channel are paced to about one a second (Slack's per-channel limit),
  ``chat.update`` to Tier 3 (50 a minute) on its own budget; a 429 is retried after its Retry-After by the
  WebClient's retry handler (bot.app.web_client).
- Slack down (unreachable, 5xx, rate-limited past the retries): the pass stops, nothing is dropped or
  counted against an event, and the loop tries again with backoff (up to a minute); when Slack answers
  again the backlog goes out once, in order.

The modules, one reason to change each: ``passes`` (a pass: claim, route, acknowledge), ``launches``
(a launch's card and thread), ``sweeps``, ``datasets`` (a check's report), ``posting`` (paced posts,
updates and uploads, each once), ``finding`` (an earlier attempt's post, by its metadata), ``refusals``
(which of Slack's refusals wait, drop or mean Slack is down), ``pacing`` and ``loop``.
"""

from bot.delivery.loop import DeliveryLoop
from bot.delivery.pacing import Pacer, update_pacer
from bot.delivery.passes import Delivery
from bot.delivery.refusals import SlackDown

__all__ = ["Delivery", "DeliveryLoop", "Pacer", "SlackDown", "update_pacer"]
