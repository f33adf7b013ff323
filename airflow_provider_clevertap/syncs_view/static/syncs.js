// The syncs list and one sync's page, read from the view's JSON endpoints with the user's session.
(function () {
  "use strict";
  var params = new URLSearchParams(location.search);
  var main = document.getElementById("main");
  // Airflow's own pages, whatever path Airflow is served under.
  var airflowRoot = location.pathname.replace(/clevertap\/.*$/, "");
  var COUNTS = CleverTapChart.SERIES.concat([CleverTapChart.DUPLICATED]);

  function h(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "onclick") node.onclick = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) {
      if (child != null) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function enc(text) { return encodeURIComponent(text); }

  function getJSON(path) {
    return fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (response) {
      if (!response.ok) {
        var reason = response.status === 401 || response.status === 403
          ? "You are not signed in to Airflow, or may not read this DAG (" + response.status + ")."
          : "The server answered " + response.status + ".";
        throw new Error(reason);
      }
      return response.json();
    });
  }

  // A link to one of Airflow's pages; inside Airflow's frame it opens in Airflow itself.
  function airflowLink(path, text) {
    var href = airflowRoot + path;
    return h("a", { href: href, text: text, onclick: function (event) {
      if (window.top === window || event.ctrlKey || event.metaKey || event.shiftKey) return;
      try {
        var top = window.top, idx = ((top.history.state || {}).idx || 0) + 1;
        var state = { usr: null, key: Math.random().toString(36).slice(2, 10), idx: idx };
        top.history.pushState(state, "", href);
        top.dispatchEvent(new top.PopStateEvent("popstate", { state: state }));
        event.preventDefault();
      } catch (error) { /* not Airflow's frame: follow the link here */ }
    } });
  }

  function runPath(sync, run) { return "dags/" + enc(sync.dag_id) + "/runs/" + enc(run.run_id); }

  function logPath(sync, run) {
    var path = runPath(sync, run) + "/tasks/" + enc(sync.task_id);
    if (sync.map_index >= 0) path += "/mapped/" + sync.map_index;
    return path + (run.try_number ? "?try_number=" + run.try_number : "");
  }

  function syncHref(sync) {
    return "?dag_id=" + enc(sync.dag_id) + "&task_id=" + enc(sync.task_id) + "&map_index=" + sync.map_index;
  }

  function syncName(sync) {
    return sync.task_id + (sync.map_index >= 0 ? " [" + sync.map_index + "]" : sync.mapped ? " [mapped]" : "");
  }

  function failedRows(summary) { return summary ? summary.rows_failed || 0 : 0; }

  function status(run) {
    if (!run) return h("span", { class: "tag", text: "no runs yet" });
    var parts = [h("span", { class: "badge " + (run.state || "none"), text: (run.state || "no state").replace(/_/g, " ") })];
    if (run.summary && run.summary.dry_run) parts.push(h("span", { class: "tag", text: "dry run", title: "nothing was stored" }));
    if (!run.summary && run.state === "failed") parts.push(h("span", { class: "tag", text: "no summary", title: "stopped before its summary: see the log" }));
    var failed = failedRows(run.summary);
    if (failed) parts.push(h("span", { class: "tag warn", text: CleverTapChart.fmtNumber(failed) + " failed rows" }));
    return h("span", {}, parts);
  }

  function countCells(run, series) {
    return series.map(function (s) {
      var value = run && run.summary ? run.summary[s.key] : null;
      return h("td", { class: "num", "data-series": s.key, text: value == null ? "–" : CleverTapChart.fmtNumber(value) });
    });
  }

  function table(headers, rows) {
    return h("div", { class: "panel" }, [h("table", {}, [
      h("thead", {}, [h("tr", {}, headers.map(function (header) {
        return h("th", { class: header.num ? "num" : "", text: header.text || header });
      }))]),
      h("tbody", {}, rows),
    ])]);
  }

  function kindText(sync) { return sync.kind + (sync.mode ? " · " + sync.mode : ""); }

  function showList(syncs) {
    var dagId = params.get("dag_id"), taskId = params.get("task_id");
    var shown = syncs.filter(function (sync) {
      return (!dagId || sync.dag_id === dagId) && (!taskId || sync.task_id === taskId);
    });
    document.getElementById("scope").textContent = dagId
      ? "CleverTap syncs of " + dagId + (taskId ? "." + taskId : "") : "Every CleverTap sync of the DAGs you may read.";
    if (!shown.length) {
      main.replaceChildren(h("p", { class: "muted", text: dagId ? "No CleverTap sync here." : "No CleverTap sync yet." }));
      return;
    }
    var series = CleverTapChart.SERIES;
    var rows = shown.map(function (sync) {
      var run = sync.latest, flagged = failedRows(run && run.summary) > 0 || (run && run.state === "failed");
      var name = h("a", { href: syncHref(sync), text: syncName(sync) });
      return h("tr", { class: "sync" + (flagged ? " flagged" : ""), "data-dag-id": sync.dag_id, "data-task-id": sync.task_id,
        "data-map-index": sync.map_index, onclick: function (event) {
          if (event.target.tagName !== "A") location.href = syncHref(sync);
        } }, [
        h("td", {}, [sync.dag_id]), h("td", {}, [name]), h("td", { text: kindText(sync) }),
        h("td", { class: "num", text: String(sync.runs_count) }),
        h("td", { text: run ? CleverTapChart.shortDate(run.start_date || run.run_after) : "–" }),
        h("td", {}, [status(run)]),
      ].concat(countCells(run, series)));
    });
    main.replaceChildren(table(["DAG", "Task", "Kind", { text: "Runs", num: true }, "Last run", "State"]
      .concat(series.map(function (s) { return { text: s.label, num: true }; })), rows));
  }

  function tiles(sync) {
    var run = sync.latest;
    var items = COUNTS.map(function (s) {
      var value = run && run.summary ? run.summary[s.key] : null;
      return h("div", { class: "tile", "data-series": s.key }, [
        h("b", { text: value == null ? "–" : CleverTapChart.fmtNumber(value) }),
        h("span", {}, [h("i", { style: "background:" + s.color }), s.label]),
      ]);
    });
    items.push(h("div", { class: "tile" }, [h("b", { text: run && run.duration != null ? run.duration.toFixed(1) + " s" : "–" }),
      h("span", {}, [h("i", { style: "background:var(--duration)" }), "duration"])]));
    return h("div", { class: "tiles" }, items);
  }

  function showSync(sync) {
    document.getElementById("crumb").textContent = " › " + sync.dag_id + " › " + syncName(sync);
    var runs = sync.runs;
    var scope = kindText(sync) + " · " + sync.runs_count + " runs" + (runs.length < sync.runs_count ? " (the latest " + runs.length + " shown)" : "");
    document.getElementById("scope").textContent = scope;
    if (!runs.length) {
      main.replaceChildren(h("p", { class: "muted", text: "No runs yet: this sync has not run." }));
      return;
    }
    var chronological = runs.slice().reverse().map(function (run) {
      return Object.assign({ when: run.start_date || run.run_after }, run);
    });
    var headers = ["Run", "Type", "State"].concat(COUNTS.map(function (s) { return { text: s.label, num: true }; }),
      [{ text: "Duration", num: true }, "Log"]);
    var rows = runs.map(function (run) {
      return h("tr", { "data-run-id": run.run_id }, [
        h("td", {}, [airflowLink(runPath(sync, run), CleverTapChart.shortDate(run.start_date || run.run_after))]),
        h("td", { text: (run.run_type || "").replace(/_/g, " ") }), h("td", {}, [status(run)]),
      ].concat(countCells(run, COUNTS), [
        h("td", { class: "num", text: run.duration != null ? run.duration.toFixed(1) + " s" : "–" }),
        h("td", {}, [airflowLink(logPath(sync, run), "log" + (run.try_number > 1 ? " (try " + run.try_number + ")" : ""))]),
      ]));
    });
    main.replaceChildren(
      h("h2", { text: "Latest run" }), tiles(sync),
      h("h2", { text: "Rows per run" }), h("div", { class: "panel", id: "counts-chart" }, [CleverTapChart.counts(chronological, 300)]),
      h("h2", { text: "Duration" }), h("div", { class: "panel", id: "duration-chart" }, [CleverTapChart.durations(chronological, 150)]),
      h("h2", { text: "Runs" }), h("div", { id: "runs" }, [table(headers, rows)]),
      failedSection(sync));
  }

  function failedSection(sync) {
    var section = h("section", { id: "failed-rows" }, [h("h2", { text: "Latest failed rows" })]);
    if (!sync.failed_rows.length) {
      section.appendChild(h("p", { class: "muted", text: "No failed rows in the runs shown." }));
      return section;
    }
    section.appendChild(h("p", { class: "muted", text: "A sample from run " + sync.failed_rows_run + " (its summary keeps up to 20)." }));
    section.appendChild(table(["Identity", { text: "Code", num: true }, "Reason"], sync.failed_rows.map(function (row) {
      return h("tr", {}, [h("td", { text: row.identity == null ? "(no identity)" : row.identity }),
        h("td", { class: "num", text: row.code == null ? "invalid" : String(row.code) }), h("td", { class: "wrap", text: row.error })]);
    })));
    if (sync.failed_rows_query) {
      section.appendChild(h("p", { class: "muted", text: "Every failed row of that run, in the sync's failed-rows table (run it on the sync's source connection):" }));
      section.appendChild(h("pre", { id: "failed-rows-query", text: sync.failed_rows_query }));
    } else {
      section.appendChild(h("p", { class: "muted", text: "This sync keeps no failed-rows table: set failed_rows_table to keep every failed row." }));
    }
    return section;
  }

  function fail(error) { main.replaceChildren(h("p", { class: "error", text: error.message })); }

  var dagId = params.get("dag_id"), taskId = params.get("task_id"), mapIndex = params.get("map_index");
  if (dagId && taskId && mapIndex !== null) {
    getJSON("api/syncs/" + enc(dagId) + "/" + enc(taskId) + "?map_index=" + enc(mapIndex)).then(showSync).catch(fail);
  } else {
    getJSON("api/syncs").then(function (body) {
      var matching = body.syncs.filter(function (sync) { return sync.dag_id === dagId && sync.task_id === taskId; });
      if (taskId && matching.length === 1) {
        location.replace(syncHref(matching[0]));
      } else {
        showList(body.syncs);
      }
    }).catch(fail);
  }
})();
