// Filter forms submit themselves when a select changes (the button stays for
// keyboard and no-script users). Nothing else runs in the page.
"use strict";
document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
  select.addEventListener("change", function () {
    select.form.submit();
  });
});
