"""Pure analysis on GeoDataFrames in the metric work CRS: no web, no maps, no storage."""
