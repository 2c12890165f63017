// Asks the app's route, GET api/greeting, and shows its answer.
const form = document.getElementById('ask');
const answer = document.getElementById('answer');

async function ask() {
  const name = document.getElementById('name').value;
  try {
    const r = await fetch(`api/greeting?name=${encodeURIComponent(name)}`);
    if (!r.ok) throw new Error(`the route answered ${r.status}`);
    const g = await r.json();
    answer.textContent = `${g.greeting} (greeted ${g.count} times so far)`;
    answer.dataset.state = 'done';
  } catch (e) {
    answer.textContent = `Could not ask: ${e.message}`;
    answer.dataset.state = 'failed';
  }
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  ask();
});
ask();
