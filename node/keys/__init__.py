"""The node's keys (member key, master key, consortium secret): their store and commands."""
