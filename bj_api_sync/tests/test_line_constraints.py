from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import BjApiSyncCase


@tagged("post_install", "-at_install")
class TestLineConstraints(BjApiSyncCase):
    """Field mapping constraints."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.config = cls.make_out_config()
        cls.f_name = cls._field("res.partner", "name")
        cls.f_email = cls._field("res.partner", "email")
        cls.f_country = cls._field("res.partner", "country_id")
        cls.f_country_code = cls._field("res.country", "code")

    def _line(self, **vals):
        values = {"config_id": self.config.id, "external_key": "key", "field_id": self.f_name.id}
        values.update(vals)
        return self.env["bj.api.sync.config.line"].create(values)

    def test_one_identifier_at_most(self):
        self._line(external_key="full_name", is_identifier=True)
        self._line(external_key="email", field_id=self.f_email.id)
        with self.assertRaisesMessage(
            ValidationError, "Customer to CRM Sync can have at most one Record Identifier line"
        ):
            self._line(external_key="email2", field_id=self.f_email.id, is_identifier=True)

    def test_field_must_belong_to_config_model(self):
        self._line(external_key="full_name")
        with self.assertRaisesMessage(
            ValidationError,
            "Field code of mapping code belongs to res.country, not to res.partner",
        ):
            self._line(external_key="code", field_id=self.f_country_code.id)

    def test_python_lines_need_code(self):
        self._line(value_type="python", python_code="record.name.upper()")
        with self.assertRaisesMessage(ValidationError, "Mapping key needs a Python script"):
            self._line(value_type="python", python_code="  ")
        with self.assertRaisesMessage(ValidationError, "Mapping key needs a Python script"):
            self._line(value_type="relational_python", field_id=self.f_country.id)

    def test_plain_needs_field(self):
        self._line(value_type="python", field_id=False, python_code="1")
        with self.assertRaisesMessage(ValidationError, "Mapping key needs a field"):
            self._line(field_id=False)

    def test_relational_needs_relational_field_and_matching_mapping_model(self):
        country_config = self.make_out_config(
            name="Countries", model_id=self.country_model.id
        )
        self._line(
            external_key="country",
            field_id=self.f_country.id,
            value_type="relational",
            mapping_config_id=country_config.id,
        )
        self._line(external_key="country_code", field_id=self.f_country.id,
                   value_type="relational", related_path="code")
        with self.assertRaisesMessage(ValidationError, "is relational but field name is a char field"):
            self._line(value_type="relational")
        other = self.make_out_config(name="Other partners")
        with self.assertRaisesMessage(
            ValidationError,
            "Mapping Model of country is for res.partner, but field country_id points to res.country",
        ):
            self._line(
                external_key="country",
                field_id=self.f_country.id,
                value_type="relational",
                mapping_config_id=other.id,
            )

    def test_onchange_fills_external_key(self):
        line = self.env["bj.api.sync.config.line"].new({"config_id": self.config.id})
        line.field_id = self.f_email
        line._onchange_field_id()
        self.assertEqual(line.external_key, "email")

    def test_key_cannot_be_value_and_parent(self):
        self._line(external_key="address.city")
        self._line(external_key="address.zip", field_id=self.f_email.id)
        with self.assertRaisesMessage(
            ValidationError, "maps both address and address.city"
        ):
            self._line(external_key="address", field_id=self.f_email.id)
        line = self._line(external_key="addresses", field_id=self.f_email.id)
        with self.assertRaisesMessage(ValidationError, "maps both addresses and addresses.x"):
            self._line(external_key="addresses.x")
        with self.assertRaisesMessage(ValidationError, "maps both address.city and address.city.x"):
            line.external_key = "address.city.x"
