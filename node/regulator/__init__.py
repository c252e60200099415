"""The regulator's view of the consortium: members, anchoring activity, blacklist listings
and abnormal query patterns, for a node whose member holds the regulator role on chain."""
