// Asks the app's route GET api/status and shows its answer.
const out = document.getElementById('status');
fetch('api/status')
  .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`the route answered ${r.status}`))))
  .then((s) => { out.textContent = `The task has run ${s.runs} times.`; })
  .catch((e) => { out.textContent = `Could not ask: ${e.message}`; });
