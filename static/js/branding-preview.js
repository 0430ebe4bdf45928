// Live preview of the portal's colours on the branding page (progressive enhancement: the server
// renders the same preview for the saved colours). Mirrors core/contrast.py.
(function () {
  var form = document.querySelector("[data-branding-form]");
  if (!form) return;
  var primary = form.querySelector("[name=primary_color]");
  var accent = form.querySelector("[name=accent_color]");
  var part = function (name) { return document.querySelector('[data-preview="' + name + '"]'); };
  var channels = function (c) { return [1, 3, 5].map(function (i) { return parseInt(c.substr(i, 2), 16); }); };
  var luminance = function (c) {
    var l = channels(c).map(function (v) { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2];
  };
  var ratio = function (a, b) {
    var x = luminance(a), y = luminance(b);
    return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
  };
  var hex = function (rgb) { return "#" + rgb.map(function (v) { return ("0" + v.toString(16)).slice(-2); }).join("").toUpperCase(); };
  var readableOn = function (c) {
    var dark = ratio("#111827", c), light = ratio("#FFFFFF", c);
    if (Math.max(dark, light) < 4.5) return "#000000";
    return dark >= light ? "#111827" : "#FFFFFF";
  };
  var textOnWhite = function (c) {
    var rgb = channels(c);
    for (var p = 100; p >= 0; p--) {
      var shade = hex(rgb.map(function (v) { return Math.floor(v * p / 100); }));
      if (ratio(shade, "#FFFFFF") >= 4.5) return shade;
    }
    return "#000000";
  };
  var valid = function (c) { return /^#[0-9A-Fa-f]{6}$/.test(c); };
  var update = function () {
    if (valid(primary.value)) {
      var p = primary.value.toUpperCase(), text = textOnWhite(p), r = ratio(p, "#FFFFFF");
      part("bar").style.background = p;
      part("bar").style.color = readableOn(p);
      part("text").style.color = text;
      part("link").style.color = text;
      part("primary").textContent = p;
      part("ratio").textContent = (Math.round(r * 100) / 100).toString();
      part("shade").textContent = text;
      part("warning").hidden = r >= 4.5;
    }
    if (valid(accent.value)) {
      part("button").style.background = accent.value;
      part("button").style.color = readableOn(accent.value.toUpperCase());
    }
  };
  primary.addEventListener("input", update);
  accent.addEventListener("input", update);
})();
