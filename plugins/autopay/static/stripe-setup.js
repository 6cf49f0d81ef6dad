// Stripe.js card field for saving an autopay method: the card goes to Stripe only; the form
// posts the confirmed SetupIntent's id. Served from our origin (no inline script).
(function () {
  "use strict";
  var mount = document.getElementById("stripe-card");
  var form = document.getElementById("autopay-method-form");
  if (!mount || !form || typeof Stripe === "undefined") {
    return;
  }
  var stripe = Stripe(mount.dataset.publishableKey);
  var card = stripe.elements().create("card");
  card.mount(mount);
  var errorBox = document.getElementById("stripe-card-error");
  var submit = document.getElementById("autopay-submit");
  var confirmed = false;
  form.addEventListener("submit", function (event) {
    if (confirmed) {
      return;
    }
    event.preventDefault();
    submit.disabled = true;
    stripe.confirmCardSetup(mount.dataset.clientSecret, { payment_method: { card: card } })
      .then(function (result) {
        if (result.error) {
          errorBox.textContent = result.error.message || mount.dataset.errorText;
          errorBox.hidden = false;
          submit.disabled = false;
          return;
        }
        document.getElementById("setup_intent").value = result.setupIntent.id;
        confirmed = true;
        form.submit();
      });
  });
})();
