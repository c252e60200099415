"""The shared blacklist: notices, listings, delistings and bulk checks of applicants.

Importing the package has every event index keep the blacklist's derived table in step
(projection.py), so no index can be made that leaves it behind.
"""

from node.blacklist.projection import BLACKLIST_PROJECTION
from node.chain.index import register_projection

register_projection(BLACKLIST_PROJECTION)
