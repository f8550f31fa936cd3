// davfiles web app: progressive enhancement only; every page works without this file.
"use strict";
(function () {
  // "Select all" for the listing's and the trash's checkboxes.
  document.querySelectorAll("table").forEach(function (table) {
    var boxes = table.querySelectorAll("tbody input[type=checkbox]");
    var head = table.querySelector("thead th");
    if (boxes.length < 2 || !head) return;
    var all = document.createElement("input");
    all.type = "checkbox";
    all.setAttribute("aria-label", "Select all");
    all.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = all.checked; });
    });
    head.replaceChildren(all);
  });
  // Ask before the changes that cannot be undone.
  document.querySelectorAll("button[data-confirm]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  });

  // "Copy" beside a link's address (without this script the address is still selectable).
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var field = document.getElementById(button.dataset.copy);
    if (!field || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(field.value).then(
        function () { button.textContent = "Copied"; },
        function () { field.select(); }
      );
    });
  });

  // The files page's keys (its help line lists them); none fires while typing in a field.
  var searchField = document.getElementById("q");
  var newFolder = document.getElementById("new-folder");
  if (searchField && newFolder) {
    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
      if (event.target.closest("input:not([type=checkbox]):not([type=radio]), textarea, select, [contenteditable]")) return;
      if (event.key === "/") {
        event.preventDefault();
        searchField.focus();
      } else if (event.key === "n") {
        event.preventDefault();
        newFolder.closest("details").open = true;
        newFolder.focus();
      } else if (event.key === "Delete") {
        var trash = document.querySelector("#selection button[formaction$='/app/do/delete']");
        if (trash && document.querySelector("#selection input[name=name]:checked")) {
          event.preventDefault();
          trash.click();
        }
      }
    });
  }

  // Uploads with progress: files from the form or dropped on the page go in chunks through
  // /app/uploads/ (resumable: an upload is named after its file, so a retry or the same
  // drop after a reload sends only the chunks the server lacks). Without this script the
  // form posts the files at once.
  var form = document.getElementById("upload-form");
  var list = document.getElementById("upload-progress");
  if (!form || !list || !window.XMLHttpRequest) return;
  var csrf = form.elements.csrf.value;
  var folder = form.elements.folder.value;
  var uploads = document.body.dataset.root + "/app/uploads/";

  function send(method, url, body, onProgress, hold) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      if (hold) hold.xhr = xhr;
      xhr.open(method, url);
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      if (body && !(body instanceof Blob)) {
        xhr.setRequestHeader("Content-Type", "application/json");
        body = JSON.stringify(body);
      }
      if (onProgress) xhr.upload.onprogress = function (e) { onProgress(e.loaded); };
      xhr.onload = function () {
        var data = null;
        try { data = JSON.parse(xhr.responseText); } catch (ignored) { data = null; }
        if (xhr.status >= 200 && xhr.status < 300) resolve(data);
        else reject(new Error((data && data.error) || "the server answered " + xhr.status));
      };
      xhr.onerror = function () { reject(new Error("the connection failed")); };
      xhr.onabort = function () { reject(new Error("cancelled")); };
      xhr.send(body || null);
    });
  }

  function pathOf(file) {
    return file.treePath || file.webkitRelativePath || file.name;
  }

  // The files below a dropped folder, each with its path in the tree (as the picker gives).
  function entryFiles(entry, prefix) {
    return new Promise(function (resolve, reject) {
      if (entry.isFile) {
        entry.file(function (file) { file.treePath = prefix + file.name; resolve([file]); }, reject);
        return;
      }
      var reader = entry.createReader(), children = [];
      (function more() {
        reader.readEntries(function (batch) {
          if (batch.length) {
            children = children.concat(Array.from(batch));
            more();
            return;
          }
          Promise.all(children.map(function (child) {
            return entryFiles(child, prefix + entry.name + "/");
          })).then(function (lists) { resolve([].concat.apply([], lists)); }, reject);
        }, reject);
      })();
    });
  }

  function idOf(file) {
    // Two FNV-1a hashes of the file's identity: a stable name for its upload.
    var text = [folder, pathOf(file), file.size, file.lastModified].join("\u0000");
    var a = 0x811c9dc5, b = 0x01000193 ^ text.length;
    for (var i = 0; i < text.length; i++) {
      a = Math.imul(a ^ text.charCodeAt(i), 16777619) >>> 0;
      b = Math.imul(b ^ text.charCodeAt(i), 2246822519) >>> 0;
    }
    return "web-" + ("0000000" + a.toString(16)).slice(-8) + ("0000000" + b.toString(16)).slice(-8);
  }

  function button(text, action) {
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    b.addEventListener("click", action);
    return b;
  }

  function row(file) {
    var li = document.createElement("li");
    var name = document.createElement("span");
    name.textContent = pathOf(file);
    var bar = document.createElement("progress");
    bar.max = file.size || 1;
    bar.value = 0;
    bar.setAttribute("aria-label", "Progress of " + pathOf(file));
    var status = document.createElement("span");
    status.textContent = "waiting";
    li.append(name, bar, status);
    list.append(li);
    return { li: li, bar: bar, status: status, tools: [] };
  }

  function setTools(item, tools) {
    item.tools.forEach(function (tool) { tool.remove(); });
    item.tools = tools;
    item.li.append.apply(item.li, tools);
  }

  async function upload(file, conflict, item) {
    var id = idOf(file), hold = { xhr: null, cancelled: false };
    setTools(item, [button("Cancel " + pathOf(file), function () {
      hold.cancelled = true;
      if (hold.xhr) hold.xhr.abort();
      send("DELETE", uploads + id).catch(function () {});
    })]);
    try {
      await send("POST", uploads + id);
      var have = {};
      (await send("GET", uploads + id)).chunks.forEach(function (c) {
        have[parseInt(c.name, 10)] = c.size;
      });
      var chunkSize = parseInt(form.dataset.chunkSize, 10) || 8388608;
      var count = Math.max(1, Math.ceil(file.size / chunkSize)), done = 0;
      for (var n = 0; n < count; n++) {
        if (hold.cancelled) throw new Error("cancelled");
        var piece = file.slice(n * chunkSize, Math.min(file.size, (n + 1) * chunkSize));
        if (have[n] !== piece.size) {
          item.status.textContent = "sending";
          await send("PUT", uploads + id + "/" + n, piece, function (sent) {
            item.bar.value = done + sent;
          }, hold);
        }
        done += piece.size;
        item.bar.value = done;
      }
      item.status.textContent = "saving";
      var result = await send("POST", uploads + id + "/finish", {
        folder: folder, name: pathOf(file), conflict: conflict, size: file.size,
        mtime: Math.floor(file.lastModified / 1000)
      });
      item.status.textContent = result.name === file.name ? "done" : "done, as " + result.name;
      item.li.dataset.done = "1";
      setTools(item, []);
      return true;
    } catch (error) {
      item.status.textContent = hold.cancelled ? "cancelled" : "failed: " + error.message;
      setTools(item, hold.cancelled ? [] : [button("Retry " + pathOf(file), function () {
        upload(file, conflict, item).then(function (ok) { if (ok) finished(); });
      })]);
      return false;
    }
  }

  function ask(names) {
    var dialog = document.getElementById("conflict-dialog");
    if (!dialog || !dialog.showModal) return Promise.resolve("both");
    document.getElementById("conflict-names").textContent = names.join(", ");
    return new Promise(function (resolve) {
      dialog.addEventListener("close", function () { resolve(dialog.returnValue); }, { once: true });
      dialog.showModal();
    });
  }

  function finished() {
    if (list.querySelector("button")) return;  // something waits for a retry
    var count = list.querySelectorAll("li[data-done]").length;
    var note = list.querySelector("li[data-skipped]") ? "skipped" : "uploaded";
    window.location.assign(window.location.pathname + "?note=" + note + "&count=" + count);
  }

  async function start(files, conflict) {
    if (!files.length) return;
    var check;
    try {
      check = await send("POST", uploads + "check", { folder: folder, names: files.map(pathOf) });
    } catch (error) {
      list.textContent = "The upload could not start: " + error.message;
      return;
    }
    var total = files.reduce(function (sum, f) { return sum + f.size; }, 0);
    if (check.available_bytes !== null && total > check.available_bytes) {
      var note = document.createElement("li");
      note.textContent = "Not enough room: " + total + " bytes to send, " + check.available_bytes + " free.";
      list.append(note);
      return;
    }
    if (check.taken.length && conflict === null) conflict = await ask(check.taken);
    if (conflict === "cancel") return;
    var results = [];
    for (var i = 0; i < files.length; i++) {
      var item = row(files[i]);
      if (conflict === "skip" && check.taken.indexOf(pathOf(files[i])) >= 0) {
        item.status.textContent = "skipped: the name is taken";
        item.li.dataset.skipped = "1";
        continue;
      }
      results.push(await upload(files[i], conflict || "both", item));
    }
    if (results.every(Boolean)) finished();
  }

  // A folder picker, with the script only: without it a form would flatten the folder.
  var picker = document.createElement("input");
  picker.type = "file";
  picker.id = "upload-folder";
  picker.webkitdirectory = true;
  var pickerLabel = document.createElement("label");
  pickerLabel.htmlFor = picker.id;
  pickerLabel.textContent = "Or a whole folder";
  form.elements.file.required = false;
  form.querySelector("button[type=submit]").before(pickerLabel, picker);
  picker.addEventListener("change", function () {
    start(Array.from(picker.files), form.elements.conflict.value);
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    start(Array.from(form.elements.file.files), form.elements.conflict.value);
  });
  var zone = document.querySelector("main");
  zone.addEventListener("dragover", function (event) {
    if (event.dataTransfer && Array.from(event.dataTransfer.types).indexOf("Files") >= 0) {
      event.preventDefault();
      zone.classList.add("drop");
    }
  });
  zone.addEventListener("dragleave", function () { zone.classList.remove("drop"); });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    zone.classList.remove("drop");
    // Entries are readable only during the event: take them now, walk them after.
    var entries = Array.from(event.dataTransfer.items || []).map(function (item) {
      return item.webkitGetAsEntry ? item.webkitGetAsEntry() : null;
    });
    if (!entries.length || !entries.some(function (entry) { return entry && entry.isDirectory; })) {
      start(Array.from(event.dataTransfer.files), null);
      return;
    }
    Promise.all(entries.filter(Boolean).map(function (entry) { return entryFiles(entry, ""); }))
      .then(function (lists) { start([].concat.apply([], lists), null); }, function (error) {
        list.textContent = "The folder could not be read: " + error.message;
      });
  });
})();
