import t from 'tap';
import { HedgeBudget } from '../../src/proxy/hedge-budget.js';

t.test('a full bucket allows a burst of hedges, then one per five requests', async (t) => {
  const budget = new HedgeBudget();
  let burst = 0;
  while (budget.spend()) burst++;
  t.equal(burst, 30, 'thirty hedges at once: a node that hangs under load gets every request hedged at first');
  for (let i = 0; i < 4; i++) budget.earn();
  t.notOk(budget.spend(), 'four requests do not pay for a hedge');
  budget.earn();
  t.ok(budget.spend(), 'the fifth does');
  t.notOk(budget.spend());
});

t.test('the bucket never holds more than its cap', async (t) => {
  const budget = new HedgeBudget();
  for (let i = 0; i < 10_000; i++) budget.earn();
  let spent = 0;
  while (budget.spend()) spent++;
  t.equal(spent, 30);
});
