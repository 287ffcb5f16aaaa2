import t from 'tap';
import { paramInLocation, paramKey, paramValue } from '../../src/proxy/param-affinity.js';

t.test('a parameter in a query string or form body', async (t) => {
  t.equal(paramValue('grant_type=authorization_code&code=abc&redirect_uri=x', 'code'), 'abc');
  t.equal(paramValue('code=a%2Bb+c', 'code'), 'a+b c', 'decoded as a form');
  t.equal(paramValue('xcode=1&code=2', 'code'), '2', 'a name that only ends in it is another parameter');
  t.equal(paramValue('code=', 'code'), undefined, 'empty is absent');
  t.equal(paramValue('a=1', 'code'), undefined);
  t.equal(paramValue('code=%E0%A4%A', 'code'), '%E0%A4%A', 'bad escapes are kept as sent');
  t.equal(paramKey('code', 'abc'), 'code=abc');
});

t.test('the code handed out in a redirect', async (t) => {
  t.equal(paramInLocation('jabber://oauth?code=XYZ&state=s', 'code'), 'XYZ');
  t.equal(paramInLocation('https://app.example/cb#state=s&code=F1', 'code'), 'F1', 'in a fragment');
  t.equal(paramInLocation('/ssosp/login', 'code'), undefined);
  t.equal(paramInLocation(undefined, 'code'), undefined);
});
