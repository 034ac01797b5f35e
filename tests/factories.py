"""factory-boy factories for the domain models."""

import factory

from audit.log import services
from audit.models import Agency, Certification, Operator, Technology


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"AG{n:03d}")
    name = factory.LazyAttribute(lambda o: f"Agency {o.code}")
    is_home = False


class OperatorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Operator
        django_get_or_create = ("badge_number",)

    badge_number = factory.Sequence(lambda n: f"B{1000 + n}")
    name = factory.Faker("name")
    unit = "RTCC"
    agency = factory.SubFactory(AgencyFactory)


class CertificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Certification

    operator = factory.SubFactory(OperatorFactory)
    technology = factory.LazyFunction(lambda: Technology.objects.get(slug="face-recognition"))
    certified_on = factory.Faker("date_between", start_date="-3y", end_date="-1y")


class IntegrationFactory:
    """Integrations are created through the service so keys are hashed as in production."""

    @staticmethod
    def create_with_key(agency=None, name="RTCC console"):
        return services.create_integration(agency=agency or AgencyFactory(), name=name)
