"""Folium map builders (no Flask here): each returns a folium.Map."""
