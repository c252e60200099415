"""Borrowers' bindings, consents and logins.

Importing the package has every event index keep the consents' derived tables in step
(projection.py), so no index can be made that leaves them behind.
"""

from node.chain.index import register_projection
from node.consents.projection import CONSENTS_PROJECTION

register_projection(CONSENTS_PROJECTION)
