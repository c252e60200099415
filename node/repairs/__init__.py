"""Credit repair (信用修复): cases that remove wrong records, approved by a regulator."""
