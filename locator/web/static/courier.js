/* The courier page: find the user, ask the API for the nearest stations, draw the list and the map.
 *
 * Settings come from the JSON block #locator-config (see courier.py). Rules kept here:
 * - Station data is user text: it only ever goes into the page through textContent / attributes,
 *   never innerHTML. Navigation links are kept only for http(s) and geo: URLs.
 * - Every point is in the page's display system (config.crs): the map's system. The browser's
 *   geolocation fix is WGS-84; where the display system differs it is converted once by the server
 *   (/api/v1/convert). No coordinate arithmetic happens in this file.
 * - The list works without the map: if Leaflet or the tiles fail, markers and tiles are skipped.
 * - No eval, no inline handlers (a strict Content-Security-Policy can be added).
 */
(function () {
  "use strict";

  var configNode = document.getElementById("locator-config");
  var config = JSON.parse(configNode ? configNode.textContent : "{}");
  var S = config.strings || {};
  var LANG = config.lang === "en" ? "en" : "zh";
  var DISPLAY_CRS = config.crs || "wgs84";
  var TZ = "Asia/Shanghai";
  var NAV_ORDER = ["amap", "baidu", "tencent", "apple", "geo"];
  var OVERVIEW_MAX_PAGES = 10;
  var AMENITY = {};
  (config.amenities || []).forEach(function (a) { AMENITY[a.key] = a; });

  var state = {
    point: null,          // {lon, lat, label} in DISPLAY_CRS
    openNow: true,
    amenities: [],        // selected amenity keys, vocabulary order
    results: [],
    selected: -1,
    seq: 0,               // drops answers to superseded requests
    controller: null
  };

  var $ = function (id) { return document.getElementById(id); };
  var statusNode = $("status");
  var resultsNode = $("results");

  // ---------------------------------------------------------------------------------------------
  // Small helpers

  function fmt(key, vars) {
    var text = S[key] || key;
    Object.keys(vars || {}).forEach(function (name) {
      text = text.split("{" + name + "}").join(String(vars[name]));
    });
    return text;
  }

  /** Build an element; `text` goes through textContent, attributes through setAttribute. */
  function el(tag, props, children) {
    var node = document.createElement(tag);
    props = props || {};
    if (props.className) node.className = props.className;
    if (props.text !== undefined && props.text !== null) node.textContent = String(props.text);
    Object.keys(props.attrs || {}).forEach(function (name) { node.setAttribute(name, props.attrs[name]); });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function isNumber(value) { return typeof value === "number" && isFinite(value); }

  function setStatus(text, options) {
    options = options || {};
    statusNode.textContent = text || "";
    statusNode.classList.toggle("error", !!options.error);
    if (options.retry) {
      var button = el("button", {className: "btn", text: S.retry, attrs: {type: "button"}});
      button.addEventListener("click", function () { refresh(); });
      statusNode.appendChild(button);
    }
  }

  function safeUrl(value) {
    if (typeof value !== "string" || !value) return null;
    try {
      var url = new URL(value, window.location.href);
      return ["https:", "http:", "geo:"].indexOf(url.protocol) >= 0 ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function formatDistance(meters) {
    if (!isNumber(meters)) return "";
    if (meters < 1000) return fmt("distance_m", {n: Math.round(meters / 10) * 10 || Math.round(meters)});
    return fmt("distance_km", {n: (meters / 1000).toFixed(meters < 10000 ? 1 : 0)});
  }

  function compass(bearing) {
    if (!isNumber(bearing)) return "";
    var names = ["dir_n", "dir_ne", "dir_e", "dir_se", "dir_s", "dir_sw", "dir_w", "dir_nw"];
    return S[names[Math.round((((bearing % 360) + 360) % 360) / 45) % 8]] || "";
  }

  var dayFormat = new Intl.DateTimeFormat("en-CA", {timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit"});
  var timeFormat = new Intl.DateTimeFormat(LANG === "en" ? "en-GB" : "zh-CN",
    {timeZone: TZ, hour: "2-digit", minute: "2-digit", hour12: false});
  var dateFormat = new Intl.DateTimeFormat(LANG === "en" ? "en-GB" : "zh-CN",
    {timeZone: TZ, weekday: "short", month: "numeric", day: "numeric"});

  /** "08:00", "tomorrow 08:00" or "Tue 3 Dec 08:00", in Beijing time whatever the phone's zone. */
  function formatWhen(iso) {
    var when = new Date(iso);
    if (typeof iso !== "string" || isNaN(when.getTime())) return "";
    var day = dayFormat.format(when);
    var time = timeFormat.format(when);
    var now = Date.now();
    if (day === dayFormat.format(new Date(now))) return time;
    if (day === dayFormat.format(new Date(now + 86400000))) return S.tomorrow + " " + time;
    return dateFormat.format(when) + " " + time;
  }

  // ---------------------------------------------------------------------------------------------
  // URL hash: the chosen point and filters survive the language switch and can be shared

  function readHash() {
    var params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    if (params.get("open") === "0") state.openNow = false;
    var wanted = (params.get("amenity") || "").split(",");
    state.amenities = Object.keys(AMENITY).filter(function (key) { return wanted.indexOf(key) >= 0; });
    var at = (params.get("at") || "").split(",");
    if (at.length === 3 && isFinite(parseFloat(at[0])) && isFinite(parseFloat(at[1]))) {
      var label = params.get("me") === "1" ? S.your_position : (params.get("place") || S.chosen_position);
      return {lon: parseFloat(at[0]), lat: parseFloat(at[1]), crs: at[2], label: label.slice(0, 100)};
    }
    return null;
  }

  function writeHash() {
    var params = new URLSearchParams();
    if (state.point) {
      params.set("at", [state.point.lon.toFixed(6), state.point.lat.toFixed(6), DISPLAY_CRS].join(","));
      if (state.point.mine) params.set("me", "1");
      else if (state.point.label !== S.chosen_position) params.set("place", state.point.label);
    }
    if (!state.openNow) params.set("open", "0");
    if (state.amenities.length) params.set("amenity", state.amenities.join(","));
    var hash = params.toString();
    history.replaceState(null, "", window.location.pathname + window.location.search + (hash ? "#" + hash : ""));
    var link = $("lang-switch");
    if (link) link.setAttribute("href", link.getAttribute("href").split("#")[0] + (hash ? "#" + hash : ""));
  }

  // ---------------------------------------------------------------------------------------------
  // Map (optional: everything else works without it)

  var map = null;
  var stationLayer = null;
  var overviewLayer = null;
  var userMarker = null;
  var markers = [];

  function initMap() {
    if (typeof window.L === "undefined" || !$("map")) return;
    var L = window.L;
    // Honour "reduce motion" (also makes screenshots in tests show the settled map).
    var still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    map = L.map("map", {zoomControl: true, attributionControl: true, zoomAnimation: !still,
                        fadeAnimation: !still, markerZoomAnimation: !still});
    var bounds = config.bounds;
    if (bounds && bounds.length === 2) {
      map.fitBounds(bounds, {padding: [16, 16], maxZoom: 16});
    } else {
      map.setView([39.9, 116.4], 11);
    }
    if (config.tiles && config.tiles.url) {
      var options = {maxZoom: config.tiles.max_zoom || 18, attribution: config.tiles.attribution || "",
                     subdomains: config.tiles.subdomains || "abc"};
      var failures = 0;
      var base = L.tileLayer(config.tiles.url, options).addTo(map);
      // An unreachable tile server must not hide the list: say so once, keep markers.
      base.on("tileerror", function () {
        failures += 1;
        if (failures === 4) addMapNote(S.tiles_failed);
      });
      if (config.tiles.overlay_url) L.tileLayer(config.tiles.overlay_url, options).addTo(map);
    } else {
      addMapNote(S.no_tiles);
    }
    overviewLayer = L.layerGroup().addTo(map);
    stationLayer = L.layerGroup().addTo(map);
    drawOverview();
    map.on("click", function (event) {
      setPoint({lon: event.latlng.lng, lat: event.latlng.lat, label: S.chosen_position});
    });
  }

  /** Every open or temporarily closed station as a small dot, so that with no position yet (and no
   *  tiles) the courier still sees where stations are and where to tap. Dots don't take taps: a tap
   *  goes through to the map and sets the position there. Failure only means no dots. */
  function drawOverview() {
    if (!config.api.stations) return;
    var L = window.L;
    var pages = 0;
    function load(url) {
      pages += 1;
      fetch(url, {headers: {Accept: "application/json"}})
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          if (!body) return;
          var items = Array.isArray(body.items) ? body.items : [];
          items.forEach(function (item) {
            if (!isNumber(item.lat) || !isNumber(item.lon)) return;
            L.circleMarker([item.lat, item.lon], {radius: 6, weight: 2, color: "#ffffff", fillColor: "#4a4a4a",
                                                  fillOpacity: 0.9, interactive: false}).addTo(overviewLayer);
          });
          var next = body.links && body.links.next;
          if (typeof next === "string" && pages < OVERVIEW_MAX_PAGES) load(next);
        })
        .catch(function () { /* the list does not need the dots */ });
    }
    var query = new URLSearchParams({crs: DISPLAY_CRS, status: "open,temporarily_closed", limit: "1000"});
    load(config.api.stations + "?" + query.toString());
  }

  function addMapNote(text) {
    var L = window.L;
    var note = L.control({position: "topright"});  // the bottom holds the attribution, which wraps on phones
    note.onAdd = function () { return el("p", {className: "no-tiles-note", text: text}); };
    note.addTo(map);
  }

  function drawUser() {
    if (!map || !state.point) return;
    var L = window.L;
    var latlng = [state.point.lat, state.point.lon];
    if (!userMarker) {
      userMarker = L.circleMarker(latlng, {radius: 10, weight: 4, color: "#ffffff", fillColor: "#0b57d0",
                                           fillOpacity: 1, interactive: false}).addTo(map);
    } else {
      userMarker.setLatLng(latlng);
    }
  }

  function drawMarkers() {
    if (!map) return;
    var L = window.L;
    stationLayer.clearLayers();
    markers = [];
    var points = state.point ? [[state.point.lat, state.point.lon]] : [];
    state.results.forEach(function (station, index) {
      if (!isNumber(station.lat) || !isNumber(station.lon)) { markers.push(null); return; }
      var badge = el("span", {text: String(index + 1)});
      var icon = L.divIcon({className: "marker-station " + openClass(station), html: badge,
                            iconSize: [34, 34], iconAnchor: [17, 17]});
      var marker = L.marker([station.lat, station.lon], {icon: icon, title: String(station.name || ""),
                                                         keyboard: true, riseOnHover: true});
      marker.on("click", function () { select(index, {scroll: true}); });
      marker.addTo(stationLayer);
      markers.push(marker);
      points.push([station.lat, station.lon]);
    });
    if (points.length > 1) {
      // Extra room at the bottom: the attribution and the tiles note sit there.
      map.fitBounds(points.slice(0, 4), {paddingTopLeft: [40, 40], paddingBottomRight: [40, 64], maxZoom: 16});
    } else if (points.length === 1) {
      map.setView(points[0], Math.max(map.getZoom(), 15));
    }
  }

  function select(index, options) {
    state.selected = index;
    Array.prototype.forEach.call(resultsNode.children, function (card, i) {
      card.classList.toggle("is-selected", i === index);
    });
    markers.forEach(function (marker, i) {
      var node = marker && marker.getElement();
      if (node) node.classList.toggle("is-selected", i === index);
    });
    var card = resultsNode.children[index];
    if (options && options.scroll && card) card.scrollIntoView({behavior: "smooth", block: "nearest"});
    if (options && options.pan && map && markers[index]) map.panTo(markers[index].getLatLng());
  }

  // ---------------------------------------------------------------------------------------------
  // Finding the user

  function locate() {
    if (!("geolocation" in navigator)) {
      setStatus(S.geo_unsupported);
      return;
    }
    setStatus(S.locating);
    navigator.geolocation.getCurrentPosition(function (position) {
      var fix = {lon: position.coords.longitude, lat: position.coords.latitude, crs: "wgs84"};
      toDisplay(fix).then(function (point) {
        point.label = S.your_position;
        point.mine = true;
        setPoint(point);
      }, function () { setStatus(S.network_error, {error: true, retry: true}); });
    }, function () {
      setStatus(S.geo_denied);
    }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
  }

  /** A point from `crs` into the display system (by the server; identity when they agree). */
  function toDisplay(point) {
    if (!point.crs || point.crs === DISPLAY_CRS) {
      return Promise.resolve({lon: point.lon, lat: point.lat});
    }
    var query = new URLSearchParams({lon: point.lon, lat: point.lat, from: point.crs, to: DISPLAY_CRS});
    return fetch(config.api.convert + "?" + query.toString(), {headers: {Accept: "application/json"}})
      .then(function (response) {
        if (!response.ok) throw new Error("convert " + response.status);
        return response.json();
      })
      .then(function (body) { return {lon: body.lon, lat: body.lat}; });
  }

  function setPoint(point) {
    state.point = {lon: point.lon, lat: point.lat, label: point.label || S.chosen_position, mine: !!point.mine};
    state.selected = -1;
    drawUser();
    writeHash();
    refresh();
  }

  // ---------------------------------------------------------------------------------------------
  // Asking the API

  function nearestUrl() {
    var query = new URLSearchParams({
      lon: state.point.lon.toFixed(7), lat: state.point.lat.toFixed(7), crs: DISPLAY_CRS,
      k: String(config.k || 10), format: "json"
    });
    if (state.openNow) query.set("open_now", "true");
    if (state.amenities.length) query.set("amenity", state.amenities.join(","));
    return config.api.nearest + "?" + query.toString();
  }

  function refresh() {
    if (!state.point) return;
    if (state.controller) state.controller.abort();
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    state.controller = controller;
    var seq = ++state.seq;
    setStatus(S.loading);
    resultsNode.setAttribute("aria-busy", "true");
    fetch(nearestUrl(), {headers: {Accept: "application/json"}, signal: controller ? controller.signal : undefined})
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          return {ok: response.ok, status: response.status, body: body || {}};
        });
      })
      .then(function (answer) {
        if (seq !== state.seq) return;
        resultsNode.removeAttribute("aria-busy");
        if (!answer.ok) { showProblem(answer); return; }
        var results = Array.isArray(answer.body.results) ? answer.body.results : [];
        state.results = results.filter(function (r) { return r && typeof r === "object"; });
        render(answer.body);
      })
      .catch(function (error) {
        if (seq !== state.seq || (error && error.name === "AbortError")) return;
        resultsNode.removeAttribute("aria-busy");
        setStatus(S.network_error, {error: true, retry: true});
      });
  }

  function showProblem(answer) {
    var body = answer.body || {};
    var outside = answer.status === 422 && String(body.type || "").indexOf("outside-service-area") >= 0;
    state.results = [];
    render({});
    if (outside) {
      setStatus(S.outside_area, {error: true});
    } else {
      setStatus(S.network_error + (body.detail ? " (" + body.detail + ")" : ""), {error: true, retry: true});
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Drawing the list

  function openClass(station) {
    if (station.status && station.status !== "open") return "is-closed";
    if (station.open_now === true) return "is-open";
    if (station.open_now === false) return "is-closed";
    return "is-unknown";
  }

  function stateLine(station) {
    var status = station.status || "open";
    if (status !== "open") {
      return {cls: "state-closed", text: S["status_" + status] || status};
    }
    if (station.open_now === true) {
      if (!station.next_change) return {cls: "state-open", text: S.open_24_7};
      var closes = formatWhen(station.next_change);
      return {cls: "state-open", text: S.open + (closes ? " · " + fmt("closes_at", {time: closes}) : "")};
    }
    if (station.open_now === false) {
      var opens = formatWhen(station.next_change);
      return {cls: "state-closed", text: S.closed + (opens ? " · " + fmt("opens_at", {time: opens}) : "")};
    }
    return {cls: "state-unknown", text: S.hours_unknown, raw: station.opening_hours};
  }

  function card(station, index) {
    var item = el("li", {className: "card " + openClass(station), attrs: {
      "data-id": String(station.id || ""), "data-distance-m": isNumber(station.distance_m) ? station.distance_m : ""
    }});
    var name = el("button", {className: "name", text: station.name || "", attrs: {type: "button"}});
    name.addEventListener("click", function () { select(index, {pan: true}); });
    var title = el("div", {className: "card-title"}, [el("h2", {className: "name-heading"}, [name])]);
    if (station.source === "demo") title.appendChild(el("span", {className: "badge badge-demo", text: S.demo_badge}));
    item.appendChild(el("div", {className: "card-head"}, [el("span", {className: "rank", text: index + 1}), title]));

    var line = stateLine(station);
    var stateNode = el("p", {className: "state " + line.cls, text: line.text});
    if (line.raw) stateNode.appendChild(el("span", {className: "hours-raw", text: line.raw}));
    item.appendChild(stateNode);

    var distance = el("p", {className: "distance"});
    distance.appendChild(el("strong", {text: formatDistance(station.distance_m)}));
    var parts = [compass(station.bearing_deg)];
    if (isNumber(station.walk_min)) parts.push(fmt("walk_min", {n: Math.max(1, Math.round(station.walk_min))}));
    if (isNumber(station.ride_min)) parts.push(fmt("ride_min", {n: Math.max(1, Math.round(station.ride_min))}));
    distance.appendChild(document.createTextNode(" " + parts.filter(Boolean).join(" · ")));
    item.appendChild(distance);

    var keys = Array.isArray(station.amenities) ? station.amenities : [];
    var known = keys.filter(function (key) { return AMENITY[key]; });
    if (known.length) {
      var list = el("ul", {className: "amenity-list", attrs: {"aria-label": S.amenities}});
      known.forEach(function (key) {
        list.appendChild(el("li", {attrs: {"data-amenity": key}}, [
          el("img", {attrs: {src: AMENITY[key].icon, alt: "", width: "20", height: "20"}}),
          el("span", {text: AMENITY[key].label})
        ]));
      });
      item.appendChild(list);
    }
    if (station.address) item.appendChild(el("p", {className: "address", text: station.address}));

    var nav = station.nav && typeof station.nav === "object" ? station.nav : {};
    var buttons = el("div", {className: "nav", attrs: {role: "group", "aria-label": S.navigate}});
    NAV_ORDER.forEach(function (app) {
      var href = safeUrl(nav[app]);
      if (!href) return;
      buttons.appendChild(el("a", {className: "nav-btn nav-" + app, text: S["nav_" + app] || app, attrs: {
        href: href, target: "_blank", rel: "noopener noreferrer", "data-app": app,
        "aria-label": (S.navigate + " · " + (S["nav_" + app] || app) + " · " + (station.name || ""))
      }}));
    });
    if (buttons.children.length) item.appendChild(buttons);
    if (station.id) item.appendChild(el("a", {className: "report-link", text: S.report_problem || "报告问题", attrs: {
      href: "/report/" + encodeURIComponent(String(station.id)) + "?lang=" + LANG}}));
    return item;
  }

  function render(body) {
    resultsNode.textContent = "";
    var origin = $("origin");
    if (state.point) {
      origin.hidden = false;
      origin.textContent = fmt("from_here", {name: state.point.label});
    }
    if (!state.results.length) {
      if (state.point && body && Array.isArray(body.results)) {
        resultsNode.appendChild(el("li", {className: "empty-results"}, [
          el("p", {text: S.no_results}), el("span", {text: S.no_results_hint})
        ]));
      }
    } else {
      state.results.forEach(function (station, index) { resultsNode.appendChild(card(station, index)); });
    }
    $("demo-banner").hidden = !state.results.some(function (r) { return r.source === "demo"; });
    if (body && body.data_version !== undefined) $("data-version").textContent = fmt("data_version", {n: body.data_version});
    setStatus(state.point ? "" : S.tap_map_hint);
    drawMarkers();
  }

  // ---------------------------------------------------------------------------------------------
  // Place search

  var suggestionsNode = $("suggestions");
  var searchInput = $("search-input");
  var searchTimer = null;
  var searchSeq = 0;
  var lastPlaces = [];

  function searchPlaces(text, pickFirst) {
    var q = text.trim();
    if (!q) { hideSuggestions(); return; }
    var seq = ++searchSeq;
    var query = new URLSearchParams({q: q, crs: DISPLAY_CRS});
    fetch(config.api.places + "?" + query.toString(), {headers: {Accept: "application/json"}})
      .then(function (response) { return response.ok ? response.json() : {results: []}; })
      .then(function (body) {
        if (seq !== searchSeq) return;
        lastPlaces = Array.isArray(body.results) ? body.results : [];
        if (pickFirst && lastPlaces.length) { choosePlace(lastPlaces[0]); return; }
        showSuggestions(lastPlaces);
      })
      .catch(function () { if (seq === searchSeq) setStatus(S.network_error, {error: true}); });
  }

  function showSuggestions(places) {
    suggestionsNode.textContent = "";
    if (!places.length) {
      suggestionsNode.appendChild(el("li", {className: "empty", text: S.no_places}));
    }
    places.forEach(function (place) {
      var kind = S["place_kind_" + place.kind] || "";
      var meta = [kind, place.address].filter(Boolean).join(" · ");
      var button = el("button", {className: "suggestion", attrs: {type: "button", role: "option"}}, [
        el("span", {className: "s-name", text: place.name || ""}),
        el("span", {className: "s-meta", text: meta})
      ]);
      button.addEventListener("click", function () { choosePlace(place); });
      suggestionsNode.appendChild(el("li", {}, [button]));
    });
    suggestionsNode.hidden = false;
    searchInput.setAttribute("aria-expanded", "true");
  }

  function hideSuggestions() {
    suggestionsNode.hidden = true;
    suggestionsNode.textContent = "";
    searchInput.setAttribute("aria-expanded", "false");
  }

  function choosePlace(place) {
    hideSuggestions();
    if (!isNumber(place.lon) || !isNumber(place.lat)) return;
    searchInput.value = place.name || "";
    searchInput.blur();  // closes the phone keyboard so the list is visible
    setPoint({lon: place.lon, lat: place.lat, label: place.name || S.chosen_position});
  }

  searchInput.addEventListener("input", function () {
    clearTimeout(searchTimer);
    var text = searchInput.value;
    searchTimer = setTimeout(function () { searchPlaces(text, false); }, 250);
  });
  searchInput.addEventListener("keydown", function (event) {
    if (event.key === "Escape") hideSuggestions();
  });
  $("search-form").addEventListener("submit", function (event) {
    event.preventDefault();
    clearTimeout(searchTimer);
    searchPlaces(searchInput.value, true);
  });
  document.addEventListener("click", function (event) {
    if (!suggestionsNode.contains(event.target) && event.target !== searchInput) hideSuggestions();
  });

  // ---------------------------------------------------------------------------------------------
  // Filters

  var openButton = $("open-now");
  var chipButtons = Array.prototype.slice.call(document.querySelectorAll(".chip[data-amenity]"));

  function syncChips() {
    openButton.setAttribute("aria-pressed", state.openNow ? "true" : "false");
    chipButtons.forEach(function (chip) {
      var on = state.amenities.indexOf(chip.getAttribute("data-amenity")) >= 0;
      chip.setAttribute("aria-pressed", on ? "true" : "false");
    });
  }

  openButton.addEventListener("click", function () {
    state.openNow = !state.openNow;
    syncChips();
    writeHash();
    refresh();
  });
  chipButtons.forEach(function (chip) {
    chip.addEventListener("click", function () {
      var key = chip.getAttribute("data-amenity");
      var wanted = state.amenities.indexOf(key) >= 0
        ? state.amenities.filter(function (k) { return k !== key; })
        : state.amenities.concat([key]);
      state.amenities = Object.keys(AMENITY).filter(function (k) { return wanted.indexOf(k) >= 0; });
      syncChips();
      writeHash();
      refresh();
    });
  });
  $("locate-button").addEventListener("click", locate);

  // ---------------------------------------------------------------------------------------------
  // Start

  var fromHash = readHash();
  syncChips();
  initMap();
  if (fromHash) {
    toDisplay(fromHash).then(function (point) {
      point.label = fromHash.label;
      point.mine = fromHash.label === S.your_position;
      setPoint(point);
    }, function () { locate(); });
  } else {
    locate();
  }
  document.documentElement.setAttribute("data-ready", "true");
}());
