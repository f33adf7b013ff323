// Light or dark as Airflow's UI shows it (the class on its <html>), else as the system prefers.
(function () {
  "use strict";
  var root = document.documentElement;
  function parentRoot() {
    try {
      return window.parent !== window ? window.parent.document.documentElement : null;
    } catch (error) {
      return null;  // another origin: the system's preference only
    }
  }
  var airflow = parentRoot();
  var system = window.matchMedia("(prefers-color-scheme: dark)");
  function apply() {
    var dark = airflow && /\b(dark|light)\b/.test(airflow.className)
      ? airflow.classList.contains("dark")
      : system.matches;
    root.setAttribute("data-theme", dark ? "dark" : "light");
  }
  apply();
  system.addEventListener("change", apply);
  if (airflow) {
    new MutationObserver(apply).observe(airflow, { attributes: true, attributeFilter: ["class"] });
  }
})();
